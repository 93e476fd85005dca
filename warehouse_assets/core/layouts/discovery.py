"""Finding layouts: every YAML file of the layouts folder, and which one applies to a file."""

from __future__ import annotations

from pathlib import Path

from warehouse_assets.core.layouts.layout import Layout, LayoutError


def load_layout(path: Path) -> Layout:
    """One layout YAML file, validated; LayoutError names the file and the field."""
    return Layout.load(Path(path))


def load_layouts(folder: Path) -> list[Layout]:
    """Every *.yaml / *.yml layout in `folder` (none if the folder is absent), by file name.

    All files are checked; the errors of every broken file are reported together.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    layouts: list[Layout] = []
    errors: list[str] = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            layouts.append(Layout.load(path))
        except LayoutError as exc:
            errors.append(str(exc))
    by_name: dict[str, Layout] = {}
    for layout in layouts:
        if layout.name in by_name:
            errors.append(
                f"{layout.path}: name: {layout.name!r} is already the name of {by_name[layout.name].path}; "
                "layout names must be unique (they namespace surrogate ids)"
            )
        by_name.setdefault(layout.name, layout)
    if errors:
        raise LayoutError("\n".join(errors))
    return layouts


def find_layout(relative_path: str, layouts: list[Layout]) -> Layout | None:
    """The layout for a file (path relative to the landing folder), or None: the standard contract.

    Two layouts claiming one file is an error rather than a guess.
    """
    matched = [layout for layout in layouts if layout.applies_to(relative_path)]
    if len(matched) > 1:
        raise LayoutError(
            f"{relative_path}: matched by more than one layout: "
            f"{', '.join(f'{m.name} ({m.path})' for m in matched)}; make their applies_to exclusive"
        )
    return matched[0] if matched else None
