"""Report once, compare twice: year-on-year comparison and mirror check (issue 6).

- `yoy.compare_years(current, previous, config) -> Comparison`
- `mirror.mirror_check(ours, partner_reports, config) -> MirrorResult`
- `mirror.read_partner_report(path)`: att-report's workbook layout or a plain table
- `sections.comparison_section / mirror_section`: HTML sections for the summary
- `publish_after_build(...)`: add such outputs to a finished build's out/ folder

Findings are registered rules of stage "compare" (basis-changed, large-swing,
new-partner-large, mirror-difference).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

from att_report.compare.mirror import MirrorError, MirrorResult, mirror_check, read_partner_report
from att_report.compare.yoy import Comparison, CompareError, compare_years, find_previous_report

__all__ = [
    "Comparison", "CompareError", "compare_years", "find_previous_report",
    "MirrorResult", "MirrorError", "mirror_check", "read_partner_report", "publish_after_build",
]


_SECTIONS_STATE = Path(".state") / "sections.json"


def _inputs_digest(manifest: dict) -> str:
    """What a build was made from: the config and every input file's checksum."""
    import hashlib

    parts = [manifest.get("config_sha256", "")]
    parts += sorted(f"{i.get('path')}={i.get('sha256')}" for i in manifest.get("inputs", []))
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _load_sections(out_dir: Path, digest: str) -> dict:
    """Sections published earlier for the same inputs (a change of inputs makes them stale)."""
    import json

    try:
        state = json.loads((out_dir / _SECTIONS_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state.get("sections", {}) if state.get("inputs") == digest else {}


def publish_after_build(result, out_dir: Path, files: Mapping[str, Callable[[Path], None]],
                        sections: Sequence) -> list[Path]:
    """Add files to a finished build's outputs and its summary's sections, atomically.

    `result` is pipeline.BuildResult. Each `files[name](path)` writes one
    output; the summary is re-rendered from the same model, findings and
    accounting with `sections` added, and manifest.json's outputs list gets
    the new files' and the new summary's sha256. Sections published earlier
    for the same inputs (a comparison before a mirror check, say) are kept in
    the summary and the manifest. All or nothing: on failure the build's
    outputs stay as they were.
    """
    import copy
    import json

    from att_report.render.atomic import atomic_outputs
    from att_report.render.html import ExtraSection, summary_filename, write_summary
    from att_report.render.manifest import accounting_table, sha256_file, write_manifest

    out_dir = Path(out_dir)
    digest = _inputs_digest(result.manifest)
    kept = _load_sections(out_dir, digest)
    for section in sections:
        kept[section.title] = {"html": section.html, "files": sorted(files)}
    written: list[Path] = []
    with atomic_outputs(out_dir) as staging:
        for name, writer in files.items():
            writer(staging / name)
            written.append(out_dir / name)
        summary = summary_filename(result.model)
        every = [ExtraSection(title, kept[title]["html"]) for title in sorted(kept)]
        write_summary(staging / summary, result.model, result.findings, accounting_table(result.records),
                      extra_sections=every)
        written.append(out_dir / summary)
        manifest = copy.deepcopy(result.manifest)
        replaced = {p.name: sha256_file(staging / p.name) for p in written}
        for title, entry in kept.items():  # files of sections published before, still in out/
            for name in entry["files"]:
                if name not in replaced and (out_dir / name).is_file():
                    replaced[name] = sha256_file(out_dir / name)
        outputs = [o for o in manifest.get("outputs", []) if o.get("path") not in replaced]
        outputs += [{"path": name, "sha256": sha} for name, sha in replaced.items()]
        manifest["outputs"] = sorted(outputs, key=lambda o: o["path"])
        write_manifest(staging / "manifest.json", manifest)
    state = out_dir / _SECTIONS_STATE
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"inputs": digest, "sections": kept}, indent=1, sort_keys=True), encoding="utf-8")
    return written
