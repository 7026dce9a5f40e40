# The layers' one recipe for pinned wheels of Lambda's platform, whatever the build machine: no
# dependency resolution, so nothing the runtime already has (boto3, botocore, ...) ends up in a layer;
# each requirements.txt lists everything. Included by layers/*/Makefile: `sam build` runs those with
# their own path (so this one is found beside them) in a scratch copy of their folder (the working one).
# `sam build --cached` does not see a change here: build with `make clean build` after one.
LAMBDA_ARCH ?= x86_64
PYTHON ?= python3.13

.PHONY: wheels

wheels:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
		--platform manylinux2014_$(LAMBDA_ARCH) --platform manylinux_2_24_$(LAMBDA_ARCH) \
		--platform manylinux_2_28_$(LAMBDA_ARCH) \
		--python-version 3.13 --implementation cp \
		--target "$(ARTIFACTS_DIR)/python" -r requirements.txt
