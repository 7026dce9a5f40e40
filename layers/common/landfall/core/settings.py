"""Settings of each function, parsed from environment variables once per cold start; each stage
declares its own (`<stage>.settings`).

A missing or malformed variable fails the cold start with a message that names it, instead of a
KeyError deep inside a batch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

from pydantic import BaseModel, ConfigDict, ValidationError


class SettingsError(RuntimeError):
    """The function's environment is incomplete or wrong."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


def parse_settings[S: BaseModel](model: type[S], environ: Mapping[str, str]) -> S:
    """Build `model` from `environ`, naming every missing or invalid variable on failure."""
    try:
        return model.model_validate(dict(environ))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise SettingsError(f"{model.__name__}: {problems}") from error


@cache
def settings_from_env[S: BaseModel](model: type[S]) -> S:
    """The settings of this execution environment (parsed on first use, then reused)."""
    return parse_settings(model, os.environ)
