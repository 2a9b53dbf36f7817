"""Mutation testing of the modules that carry the engine's invariants: ``make mutation``.

For each module in `TARGETS`, cosmic-ray (a maintained mutation tester) makes every small
deliberate bug its operators know (a ``<`` for a ``<=``, a ``True`` for a ``False``, a
removed ``break``...) and runs only that module's own test files against each one. A
mutant the tests do not catch "survives": docs/testing.md lists every survivor, each
killed by a new test or explained as equivalent.

It works on a copy of the checkout in a temporary folder (cosmic-ray rewrites the module
file in place for each mutant), so the working tree is never left mutated. It is CPU-bound:
``make mutation`` runs it under ``nice -n 19``.

    python tools/mutation.py                     # every target
    python tools/mutation.py breaker retry       # some targets
    python tools/mutation.py --json out.json ... # scores and survivors as JSON as well
    python tools/mutation.py --recheck out.json  # re-run only the recorded survivors
    python tools/mutation.py ledger_repository --only new_mcn LedgerBase._release_next

``--only`` restricts a run (of one target) to the named functions, methods (``Class.method``
or a bare name: every definition of it), classes or module-level assignments: every other
mutant is marked skipped by cosmic-ray's own line filter (``cr-filter-lines``) over the
line ranges those definitions span, so a large module can be measured where its
invariants are without paying for the rest.

``--counts`` only makes the mutants (``cosmic-ray init`` and the same filters, seconds) and
prints how many each target has today: a row of docs/testing.md whose count differs was
measured on another version of its module and must be measured again (about 3 s a target;
``ledger_repository`` with the ``--only`` list its row names).

``--recheck`` applies each survivor of an earlier run again (``cosmic-ray apply``) and runs
its target's tests: after tests were added for survivors, it gives the new score without
re-running the mutants that were already killed (adding tests cannot revive them).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: target name -> (module file, the test files that state its behaviour)
TARGETS: dict[str, tuple[str, tuple[str, ...]]] = {
    # With the deadline-aware delivery tests: probe_due and deadline_capped are theirs.
    "breaker": ("engine/reliability/breaker.py", ("tests/delivery/test_core_retry_breaker.py",
                                                  "tests/delivery/test_core_deadline_delivery.py")),
    "retry": ("engine/reliability/retry.py", ("tests/delivery/test_core_retry_breaker.py",
                                              "tests/delivery/test_core_deadline_delivery.py")),
    "logging": ("engine/observability/logging.py", ("tests/observability/test_ops_logging.py",)),
    "clets_text": ("engine/clets/text.py", ("tests/clets/test_clets_text.py",
                                            "tests/test_ncic_record_content.py")),
    # With the statute-derived holiday tests (the years AB 855 and AB 1655 changed).
    "court_calendar": ("engine/law/court_calendar.py", ("tests/law/test_ops_court_calendar.py",
                                                        "tests/law/test_legal_deadlines.py")),
    "deadlines": ("engine/law/deadlines.py", ("tests/law/test_ops_deadlines.py",
                                              "tests/law/test_legal_deadlines.py")),
    "intake_ack": ("engine/intake/batch.py", ("tests/intake/test_core_intake.py",)),
    # Not tests/faults/test_faults_spool.py: a running engine per mutant, 12 s a run.
    "intake_spool": ("engine/intake/spool.py", ("tests/intake/test_spool_rules.py",
                                                "tests/intake/test_core_intake.py",
                                                "tests/test_error_texts.py")),
    "transmitter": ("engine/delivery/transmitter.py", ("tests/delivery/",
                                                        "tests/core/test_core_flow.py",
                                                        "tests/intake/test_core_batching.py",
                                                        "tests/intake/test_core_header_facts.py")),
    # The ledger, one target per file; each runs the fastest tests/ledger/ files that state
    # its behaviour (SQLite: see "Mutation testing" in docs/testing.md).
    "ledger_states": ("engine/ledger/states.py", ("tests/ledger/test_ledger_repository.py",
                                                  "tests/ledger/test_ledger_ack_in_flight.py")),
    "ledger_transmissions": ("engine/ledger/transmissions.py",
                             ("tests/ledger/test_ledger_transmissions.py",
                              "tests/ledger/test_ledger_repository.py",
                              "tests/ledger/test_ledger_ack_in_flight.py")),
    "ledger_repository": ("engine/ledger/repository.py",
                          ("tests/ledger/test_ledger_previous_mcn.py",
                           "tests/ledger/test_ledger_claim_rules.py",
                           "tests/ledger/test_ledger_transmissions.py",
                           "tests/ledger/test_ledger_repository.py",
                           "tests/ledger/test_ledger_ack_in_flight.py",
                           "tests/ledger/test_ledger_fast_paths.py")),
    "ledger_intake": ("engine/ledger/intake.py", ("tests/ledger/test_ledger_intake_rules.py",
                                                  "tests/ledger/test_ledger_repository.py",
                                                  "tests/ledger/test_ledger_fast_paths.py")),
    "ledger_acks": ("engine/ledger/acknowledgements.py",
                    ("tests/ledger/test_ledger_repository.py",
                     "tests/ledger/test_ledger_ack_in_flight.py",
                     "tests/ledger/test_ledger_ack_batch.py",
                     "tests/ledger/test_ledger_ack_rules.py")),
    "niem_render": ("engine/niem/render.py", ("tests/niem/test_niem_render.py",
                                              "tests/niem/test_niem_xpaths.py",
                                              "tests/niem/test_niem_roundtrip.py",
                                              "tests/niem/test_niem_sequence_id.py",
                                              "tests/niem/test_niem_golden.py")),
    "niem_read": ("engine/niem/read.py", ("tests/niem/test_niem_read.py",
                                          "tests/niem/test_niem_read_no_silent_loss.py",
                                          "tests/niem/test_niem_read_near_misses.py",
                                          "tests/niem/test_niem_roundtrip.py",
                                          "tests/niem/test_niem_sequence_id.py")),
    "checks": ("engine/law/checks.py", ("tests/law/test_checks.py",
                                        "tests/law/test_legal_rules.py")),
}

#: Operators left out, with the reason: each makes only mutants no test can tell apart.
EXCLUDED_OPERATORS = [
    # ``x + y`` -> ``x >> y`` and the like on str/dates raise TypeError at once, and the
    # bit-shift/bitwise variants of arithmetic make a flood of such crash-only mutants;
    # the arithmetic swaps that matter (+ <-> -, * <-> /) are kept.
    r"core/ReplaceBinaryOperator_.*_(RShift|LShift|BitOr|BitAnd|BitXor|Pow|FloorDiv|Mod)",
    r"core/ReplaceBinaryOperator_(RShift|LShift|BitOr|BitAnd|BitXor|Pow|FloorDiv|Mod)_.*",
]


def _copy_checkout(into: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           check=True, capture_output=True, text=True).stdout.splitlines()
    for name in files:
        source = REPO / name
        if source.is_file():
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    shared = REPO.parent / "shared"
    if shared.exists() and not (into.parent / "shared").exists():
        (into.parent / "shared").symlink_to(shared)


def line_ranges(source: str, names: list[str]) -> list[tuple[int, int]]:
    """The (first, last) lines of each definition ``names`` picks in ``source``: functions,
    methods (``Class.method`` or a bare name for every definition of it), classes and
    module-level assignments. Decorators are included (cosmic-ray mutates them too)."""
    tree = ast.parse(source)
    found: dict[str, list[tuple[int, int]]] = {}

    def span(node: ast.stmt) -> tuple[int, int]:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        return first, node.end_lineno or node.lineno

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for key in {node.name, prefix + node.name}:
                    found.setdefault(key, []).append(span(node))
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{node.name}.")
            elif not prefix and isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, []).append(span(node))

    visit(tree.body, "")
    missing = [n for n in names if n not in found]
    if missing:
        raise SystemExit(f"--only: not defined in the module: {', '.join(missing)}")
    return sorted({r for n in names for r in found[n]})


def _config(module: str, tests: tuple[str, ...], timeout: float,
            lines: list[tuple[int, int]] | None = None) -> str:
    command = " ".join([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                        "-p", "no:randomly", *tests])
    excluded = ", ".join(json.dumps(p) for p in EXCLUDED_OPERATORS)
    return (f'[cosmic-ray]\nmodule-path = "{module}"\ntimeout = {timeout}\n'
            f'excluded-modules = []\ntest-command = "{command}"\n\n'
            f'[cosmic-ray.distributor]\nname = "local"\n\n'
            f'[cosmic-ray.filters.operators-filter]\nexclude-operators = [{excluded}]\n'
            + ("" if lines is None else
               f'\n[cosmic-ray.filters.line-filter.lines]\n"{module}" = ['
               + ", ".join(f'"{a}-{b}"' for a, b in lines) + "]\n"))


def count_mutants(name: str, only: list[str] | None = None) -> int:
    """How many mutants `run_target` would run for ``name`` today (none is run)."""
    module, tests = TARGETS[name]
    lines = (line_ranges((REPO / module).read_text(encoding="utf-8"), only)
             if only else None)
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix=f"mutation-count-{name}-") as tmp:
        config, session = Path(tmp) / "cosmic-ray.toml", Path(tmp) / "session.sqlite"
        config.write_text(_config(module, tests, 60, lines), encoding="utf-8")
        step = {"cwd": REPO, "check": True, "capture_output": True}
        subprocess.run([bin_dir / "cosmic-ray", "init", config, session], **step)
        subprocess.run([bin_dir / "cr-filter-operators", session, config], **step)
        subprocess.run([bin_dir / "cr-filter-pragma", session], **step)
        if lines is not None:
            subprocess.run([bin_dir / "cr-filter-lines", session, "--config", config], **step)
        dump = subprocess.run([bin_dir / "cosmic-ray", "dump", session], cwd=REPO,
                              check=True, capture_output=True, text=True).stdout
    return sum(1 for line in dump.splitlines() if json.loads(line)[1] is None)


def run_target(name: str, *, timeout: float, only: list[str] | None = None
               ) -> dict[str, object]:
    module, tests = TARGETS[name]
    lines = (line_ranges((REPO / module).read_text(encoding="utf-8"), only)
             if only else None)
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix=f"mutation-{name}-") as tmp:
        work = Path(tmp) / "repo"
        _copy_checkout(work)
        config, session = work / "cosmic-ray.toml", work / "session.sqlite"
        config.write_text(_config(module, tests, timeout, lines), encoding="utf-8")
        env = {**os.environ, "CI": "1"}
        step = {"cwd": work, "env": env, "check": True}
        subprocess.run([bin_dir / "cosmic-ray", "init", config, session], **step)
        subprocess.run([bin_dir / "cr-filter-operators", session, config], **step)
        subprocess.run([bin_dir / "cr-filter-pragma", session], **step)
        if lines is not None:
            subprocess.run([bin_dir / "cr-filter-lines", session, "--config", config], **step)
        subprocess.run([bin_dir / "cosmic-ray", "baseline", config], **step)
        subprocess.run([bin_dir / "cosmic-ray", "exec", config, session], **step)
        dump = subprocess.run([bin_dir / "cosmic-ray", "dump", session], cwd=work, env=env,
                              check=True, capture_output=True, text=True).stdout
    killed, survivors, skipped, killed_lines = 0, [], 0, []
    for line in dump.splitlines():
        item, result = json.loads(line)
        if result is None or result.get("worker_outcome") == "skipped":
            skipped += 1
            continue
        if result.get("test_outcome") == "survived":
            mutation = item["mutations"][0]
            survivors.append({"line": mutation["start_pos"][0],
                              "operator": mutation["operator_name"],
                              "occurrence": mutation["occurrence"],
                              "diff": result.get("diff", "")})
        else:
            killed += 1  # killed, or incompetent (the mutant cannot even run)
            killed_lines.append(item["mutations"][0]["start_pos"][0])
    total = killed + len(survivors)
    return {"target": name, "module": module, "tests": list(tests), "only": only,
            "mutants": total,
            "killed": killed, "survived": len(survivors), "skipped": skipped,
            "score": round(100 * killed / total, 1) if total else None,
            "survivors": sorted(survivors, key=lambda s: s["line"]),
            "killed_lines": sorted(killed_lines)}


def recheck(result: dict[str, object]) -> dict[str, object]:
    """Run a target's recorded survivors against its current tests."""
    name = str(result["target"])
    module, tests = TARGETS[name]
    bin_dir = Path(sys.executable).parent
    still: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix=f"mutation-recheck-{name}-") as tmp:
        work = Path(tmp) / "repo"
        _copy_checkout(work)
        original = (work / module).read_bytes()
        env = {**os.environ, "CI": "1"}
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
        # As `cosmic-ray baseline` before a run: tests that fail on the unmutated module
        # would count every survivor as killed.
        if subprocess.run(command, cwd=work, env=env, capture_output=True).returncode != 0:
            raise SystemExit(f"{name}: its tests fail on the unmutated module; fix them first")
        for survivor in result["survivors"]:  # type: ignore[attr-defined]
            subprocess.run([bin_dir / "cosmic-ray", "apply", module, survivor["operator"],
                            str(survivor["occurrence"])], cwd=work, env=env, check=True,
                           capture_output=True)
            try:
                outcome = subprocess.run(command, cwd=work, env=env, capture_output=True,
                                         timeout=300)
                survived = outcome.returncode == 0
            except subprocess.TimeoutExpired:
                survived = False  # a mutant that hangs the tests is caught by the timeout
            finally:
                (work / module).write_bytes(original)
            if survived:
                still.append(survivor)
    killed = int(result["mutants"]) - len(still)  # type: ignore[call-overload]
    return {**result, "killed": killed, "survived": len(still), "survivors": still,
            "score": round(100 * killed / int(result["mutants"]), 1)}  # type: ignore[call-overload]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", choices=[[], *TARGETS], default=[],
                        help="targets to run (default: all)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds one mutant's test run may take")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--recheck", type=Path,
                        help="re-run only the survivors recorded in this JSON result file")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="mutate only these functions, methods (Class.method), classes "
                             "or module-level assignments of the (one) target")
    parser.add_argument("--counts", action="store_true",
                        help="only count each target's mutants today (runs none)")
    args = parser.parse_args(argv)
    if args.counts:
        for name in args.targets or list(TARGETS):
            print(f"{name}: {TARGETS[name][0]}: {count_mutants(name, args.only)} mutants")
        return 0
    if args.only and (len(args.targets) != 1 or args.recheck):
        parser.error("--only takes exactly one target and no --recheck")
    results = []
    earlier = ({r["target"]: r for r in json.loads(args.recheck.read_text(encoding="utf-8"))}
               if args.recheck else {})
    for name in args.targets or (list(earlier) if earlier else list(TARGETS)):
        result = (recheck(earlier[name]) if earlier else
                  run_target(name, timeout=args.timeout, only=args.only))
        results.append(result)
        print(f"{name}: {result['module']}: {result['killed']}/{result['mutants']} killed "
              f"({result['score']}%), {result['survived']} survived", flush=True)
        for survivor in result["survivors"]:  # type: ignore[attr-defined]
            print(f"  survived line {survivor['line']}: {survivor['operator']}\n"
                  f"{survivor['diff']}", flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
