"""Where a model (or adapter) named in a config lives: a local folder, or a model id already in
the Hugging Face cache. vlmforge never downloads: every ``from_pretrained`` call gets
:data:`OFFLINE`, and :func:`go_offline` sets ``HF_HUB_OFFLINE=1`` (unless the user set it) so
huggingface_hub sends no request at all (not even its telemetry); a mistyped name fails at once
instead of retrying the hub.

A value that looks like a path (it starts with ``.``, ``~`` or ``/``, holds a backslash or more
than one ``/``) must exist; ``name`` or ``owner/name`` that is no folder must be in the cache
(``hf download owner/name`` puts it there). Both are checked on disk before anything heavy is
imported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from vlmforge.errors import ConfigError

# from_pretrained(..., **OFFLINE): local files only, never the network
OFFLINE: dict[str, Any] = {"local_files_only": True}


def go_offline() -> None:
    """No request to the Hugging Face hub from this process: ``HF_HUB_OFFLINE=1`` unless the
    environment already sets it (also when huggingface_hub is already imported)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    offline = os.environ["HF_HUB_OFFLINE"].strip().lower() in ("1", "true", "yes", "on")
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and offline:
        setattr(constants, "HF_HUB_OFFLINE", True)  # noqa: B010 (a module read at import)


def looks_local(value: str) -> bool:
    """Whether ``value`` is written as a path rather than a hub id (``owner/name``)."""
    if value.startswith((".", "~", "/")) or "\\" in value or value.count("/") > 1:
        return True
    return bool(os.sep != "/" and os.sep in value)


def model_location(value: str | Path, *, what: str = "model") -> str:
    """``value`` as ``from_pretrained`` should get it (``~`` expanded), or a ConfigError naming
    it when it is written as a path and nothing is there. ``what`` names the setting."""
    go_offline()
    text = str(value)
    if not text.strip():
        raise ConfigError(f"{what} is empty: give a model folder or a model id.")
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ConfigError(
                f"{what} '{text}' is a file; give the model's folder (the one holding config.json)."
            )
        return str(trained_model_folder(path))
    if looks_local(text):
        raise ConfigError(f"{what} folder '{text}' does not exist. {_HINT}")
    if not in_hub_cache(text):
        raise ConfigError(
            f"{what} '{text}': there is no such folder, and no model '{text}' in the Hugging "
            f"Face cache (vlmforge does not download models). {_HINT}"
        )
    return text


def trained_model_folder(path: Path) -> Path:
    """``path/model`` when ``path`` is a `vlmforge train --trainer sft` output folder (the model
    is saved in its ``model/``), else ``path``."""
    if (
        not (path / "config.json").is_file()
        and not (path / "adapter_config.json").is_file()
        and (path / "model" / "config.json").is_file()
    ):
        return path / "model"
    return path


def in_hub_cache(repo_id: str) -> bool:
    """Whether the Hugging Face cache (``HF_HUB_CACHE`` / ``HF_HOME``) holds model ``repo_id``."""
    from huggingface_hub import constants

    return (Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))).is_dir()


def not_loadable(value: str | Path, exc: BaseException, *, what: str = "model") -> ConfigError:
    """The error for a model that ``from_pretrained`` could not load offline."""
    text = str(value)
    if not Path(text).expanduser().exists():
        return ConfigError(
            f"{what} '{text}' is neither a local folder nor a model id in the Hugging Face "
            f"cache (vlmforge does not download models). {_HINT}"
        )
    return ConfigError(f"cannot load {what} '{text}': {exc}. {_HINT}")


_HINT = (
    "Give a local model folder (build a tiny one with `vlmforge models tiny --out DIR`) or the "
    "id of a model already downloaded (`hf download OWNER/NAME`)."
)
