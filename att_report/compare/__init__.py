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


def publish_after_build(result, out_dir: Path, files: Mapping[str, Callable[[Path], None]],
                        sections: Sequence) -> list[Path]:
    """Add files to a finished build's outputs and its summary's sections, atomically.

    `result` is pipeline.BuildResult. Each `files[name](path)` writes one
    output; the summary is re-rendered from the same model, findings and
    accounting with `sections` added, and manifest.json's outputs list gets
    the new files' and the new summary's sha256. All or nothing: on failure
    the build's outputs stay as they were.
    """
    import copy

    from att_report.render.atomic import atomic_outputs
    from att_report.render.html import summary_filename, write_summary
    from att_report.render.manifest import accounting_table, sha256_file, write_manifest

    out_dir = Path(out_dir)
    written: list[Path] = []
    with atomic_outputs(out_dir) as staging:
        for name, writer in files.items():
            writer(staging / name)
            written.append(out_dir / name)
        summary = summary_filename(result.model)
        write_summary(staging / summary, result.model, result.findings, accounting_table(result.records),
                      extra_sections=list(sections))
        written.append(out_dir / summary)
        manifest = copy.deepcopy(result.manifest)
        replaced = {p.name: sha256_file(staging / p.name) for p in written}
        outputs = [o for o in manifest.get("outputs", []) if o.get("path") not in replaced]
        outputs += [{"path": name, "sha256": sha} for name, sha in replaced.items()]
        manifest["outputs"] = sorted(outputs, key=lambda o: o["path"])
        write_manifest(staging / "manifest.json", manifest)
    return written
