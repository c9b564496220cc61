"""Bad input at scale: a dump of 90 % invented people, a single 2 GB line, a dump of gigabytes.

Each triage runs as a DPO runs it, ``vigie leak`` in its own process under
``/usr/bin/time -v`` with ``VIGIE_LEAK_MEMORY_LIMIT_MB`` = ``BENCH_BAD_LIMIT_MB`` (default
1024), against the leaks benchmark's registry of ``BENCH_BAD_PEOPLE`` people (default
200,000; built or reused under ``BENCH_LEAKS_DIR``, snapshot prepared first):

1. **invented**: one real person in ten (every tenth of the registry, written as the
   leaks benchmark writes them) among nine invented people each, drawn by
   ``vigie.synth.people.generate`` from the same name, birth date and place distributions
   (another seed; no ``ref``, e-mails at ``invented.invalid``, random phones), shuffled.
   ``vigie leak analyze --explain --json`` gives every linked row and its person: the
   invented rows linked to someone are false links, the real rows linked to their person
   the recall.
2. **one line**: a CSV file that is a single line of ``BENCH_BAD_LINE_GB`` GB (default 2,
   ``Dupont;Jean;`` repeated, no newline): triage must stop with a clear message,
   within the bound, without holding the line.
3. **gigabytes**: the leaks benchmark's messy dump repeated to ``BENCH_BAD_BIG_GB`` GB
   (default 3; ``0`` skips it) and read into the bounded DuckDB workspace (the reading
   phase of triage: decoding, the UTF-8 working copy, DuckDB's CSV reader), in a process
   of its own: peak RSS against the bound shows the reading streams. Linking tens of
   millions of rows is not run here.
4. **jsonl**, **json**, **sql**: the same rows (the messy dump, values as found) as JSON
   Lines, a JSON array and a mysqldump-style SQL dump (``INSERT`` of 500 tuples each),
   repeated to ``BENCH_BAD_STRUCTURED_GB`` GB (default 1), each read into the bounded
   workspace as in 3.: they are streamed, a record, line or tuple at a time (they were
   parsed in memory, and refused past 512 MiB, before).

Big files are written under the registry's directory and deleted after each part.

Usage: ``python -m benchmarks leak_bad_input``
(``BENCH_BAD_PARTS=invented,line,big,jsonl,json,sql``; the default leaves out the last
three).
"""

from __future__ import annotations

import csv
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

from benchmarks.bench_leak_memory import VIGIE, Measured, timed
from benchmarks.bench_leaks import HEADER, SEED, _phone, _registry, cache_dir
from vigie.settings import Settings
from vigie.store.engine import make_engine
from vigie.synth.people import day_to_date, generate

PEOPLE = int(os.environ.get("BENCH_BAD_PEOPLE", "200000"))
LIMIT_MB = int(os.environ.get("BENCH_BAD_LIMIT_MB", "1024"))
LINE_GB = float(os.environ.get("BENCH_BAD_LINE_GB", "2"))
BIG_GB = float(os.environ.get("BENCH_BAD_BIG_GB", "3"))
STRUCTURED_GB = float(os.environ.get("BENCH_BAD_STRUCTURED_GB", "1"))
PARTS = os.environ.get("BENCH_BAD_PARTS", "invented,line,big").split(",")
INVENTED_PER_REAL = 9


def _show(label: str, m: Measured) -> None:
    verdict = "within" if m.peak_mb <= LIMIT_MB else "OVER"
    print(f"  {label}: wall {m.wall:.1f} s, cpu {m.cpu:.1f} s, peak RSS {m.peak_mb:.0f} MB "
          f"({verdict} {LIMIT_MB} MB), exit {m.status}", flush=True)  # fmt: skip


def _invented_dump(settings: Settings, path: Path) -> tuple[dict[int, str], set[int]]:
    """Write the 90 %-invented dump; truth (line -> ref of the real rows), invented lines."""
    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        real = conn.exec_driver_sql(
            "SELECT ref, family_name, given_name, birth_date, phone, email, nationality, "
            "postal_code FROM subjects WHERE NOT is_canary AND id % 10 = 0 ORDER BY id"
        ).fetchall()
    engine.dispose()
    fake = generate(len(real) * INVENTED_PER_REAL, seed=SEED + 1)
    c = fake.columns
    rows: list[tuple[str | None, list[str]]] = [
        (str(ref), [ref, fam, giv, "/".join(reversed(str(b).split("-"))), _phone(ph or "", i),
                    em or "", nat or "", cp or ""])
        for i, (ref, fam, giv, b, ph, em, nat, cp) in enumerate(real)
    ]  # fmt: skip
    for i in range(len(fake)):
        born = day_to_date(int(c["birth_date"][i]))
        email = str(c["email"][i]).split("@")[0] + "@invented.invalid"
        values = [
            "",
            str(c["family_name"][i]),
            str(c["given_name"][i]),
            f"{born.day:02d}/{born.month:02d}/{born.year}",
            _phone(str(c["phone"][i] or ""), i),
            email,
            str(c["nationality"][i] or ""),
            str(c["postal_code"][i] or ""),
        ]
        rows.append((None, values))
    random.Random(SEED).shuffle(rows)
    truth: dict[int, str] = {}
    invented: set[int] = set()
    with path.open("w", encoding="cp1252", errors="replace", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(HEADER)
        for line, (ref, values) in enumerate(rows, start=2):
            w.writerow(values)
            if ref is None:
                invented.add(line)
            else:
                truth[line] = ref
    return truth, invented


def _part_invented(settings: Settings, env: dict[str, str], files: Path) -> None:
    dump, out = files / "invented-90pc.csv", files / "invented-90pc.json"
    truth, invented = _invented_dump(settings, dump)
    print(f"invented: {len(truth) + len(invented)} rows, {len(truth)} real, {len(invented)} "
          f"invented ({dump.stat().st_size / 1e6:.0f} MB)", flush=True)  # fmt: skip
    m = timed([str(VIGIE), "leak", "analyze", str(dump), "--explain", "--json", str(out)], env)
    report = json.loads(out.read_text())
    linked = {e["line"]: e["ref"] for e in report["explanations"]}
    false_links = sum(1 for ln in linked if ln in invented)
    right = sum(1 for ln, ref in linked.items() if truth.get(ln) == ref)
    wrong_real = sum(1 for ln, ref in linked.items() if ln in truth and truth[ln] != ref)
    print(f"  verdict {report['verdict']}, {report['matched_rows']} of {report['rows']} rows "
          f"linked, {report['affected_subjects']} real people affected; attribution: "
          f"{report['attribution_note']}", flush=True)  # fmt: skip
    print(f"  invented rows linked to someone: {false_links} of {len(invented)}; real rows: "
          f"{right} linked to their person ({right / max(len(truth), 1):.4%} recall), "
          f"{wrong_real} to another", flush=True)  # fmt: skip
    # What the false links rest on: the fields that agreed (positive bits) in each.
    shapes = Counter(
        " + ".join(sorted(f for f, bits in e["terms"] if bits > 0))
        for e in report["explanations"]
        if e["line"] in invented
    )
    for shape, n in shapes.most_common(4):
        print(f"    {n} false links on {shape}", flush=True)
    _show("vigie leak analyze --explain --json", m)
    dump.unlink()
    out.unlink()


def _part_line(env: dict[str, str], files: Path) -> None:
    path = files / "one-line.csv"
    chunk = ("Dupont;Jean;" * 700_000).encode()
    with path.open("wb") as f:
        written = 0
        while written < LINE_GB * 2**30:
            f.write(chunk)
            written += len(chunk)
    print(f"one line: {written / 2**30:.2f} GiB, no newline", flush=True)
    m = timed([str(VIGIE), "leak", "analyze", str(path)], env)  # prints what it said
    _show("vigie leak analyze", m)
    path.unlink()


def _part_big(env: dict[str, str], files: Path, messy: Path) -> None:
    path = files / "big.csv"
    body = messy.read_bytes()
    head, _, rows = body.partition(b"\r\n")
    with path.open("wb") as f:
        f.write(head + b"\r\n")
        while f.tell() < BIG_GB * 2**30:
            f.write(rows)
    size = path.stat().st_size
    print(f"gigabytes: {size / 2**30:.2f} GiB (the messy dump {messy.name} repeated)", flush=True)
    said = files / "big.result"
    m = timed([sys.executable, "-m", "benchmarks.bench_leak_bad_input", "read", str(path),
               str(said)], env)  # fmt: skip
    print(said.read_text().rstrip() if said.exists() else "  (the reader said nothing)")
    _show("reading into the bounded workspace", m)
    said.unlink(missing_ok=True)
    path.unlink()


def _structured(messy: Path, fmt: str) -> tuple[bytes, bytes, bytes]:
    """The rows of ``messy`` as ``fmt``: (head, body to repeat, separator between
    repetitions, the tail being "]" for JSON)."""
    with messy.open(encoding="cp1252", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    header, records = rows[0], rows[1:]
    if fmt == "jsonl":
        body = "".join(json.dumps(dict(zip(header, r, strict=True)), ensure_ascii=False) + "\n"
                       for r in records)  # fmt: skip
        return b"", body.encode(), b""
    if fmt == "json":
        body = ",\n".join(json.dumps(dict(zip(header, r, strict=True)), ensure_ascii=False)
                          for r in records)  # fmt: skip
        return b"[\n", body.encode(), b",\n"

    def quoted(v: str) -> str:
        return "NULL" if v == "" else "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"

    names = ", ".join(f"`{h}`" for h in header)
    head = ("-- MySQL dump\nCREATE TABLE `fuite` (\n"
            + ",\n".join(f"  `{h}` varchar(255) DEFAULT NULL" for h in header)
            + "\n) ENGINE=InnoDB;\nLOCK TABLES `fuite` WRITE;\n")  # fmt: skip
    statements = []
    for at in range(0, len(records), 500):
        tuples = ",".join(
            "(" + ",".join(quoted(v) for v in r) + ")" for r in records[at : at + 500]
        )
        statements.append(f"INSERT INTO `fuite` ({names}) VALUES {tuples};\n")
    return head.encode(), "".join(statements).encode(), b""


def _part_structured(env: dict[str, str], files: Path, messy: Path, fmt: str) -> None:
    path = files / f"big.{fmt}"
    head, body, sep = _structured(messy, fmt)
    with path.open("wb") as f:
        f.write(head)
        f.write(body)
        while f.tell() < STRUCTURED_GB * 2**30:
            f.write(sep)
            f.write(body)
        if fmt == "json":
            f.write(b"\n]\n")
    size = path.stat().st_size
    print(f"{fmt}: {size / 2**30:.2f} GiB ({messy.name}'s rows repeated)", flush=True)
    said = files / "big.result"
    m = timed([sys.executable, "-m", "benchmarks.bench_leak_bad_input", "read", str(path),
               str(said)], env)  # fmt: skip
    print(said.read_text().rstrip() if said.exists() else "  (the reader said nothing)")
    _show(f"reading the {fmt} dump into the bounded workspace", m)
    said.unlink(missing_ok=True)
    path.unlink()


def read_only(path: Path, result: Path) -> None:
    """The reading phase of triage alone, bounded as triage is (run as a child process)."""
    from vigie.leaks.sources import Reader
    from vigie.leaks.workspace import workspace

    settings = Settings()
    started = time.perf_counter()
    with workspace(settings.data_dir, prefix="bench-", limit_mb=settings.leak_memory_limit_mb) as (
        con,
        work,
    ):
        reader = Reader(con, work, max_line=settings.leak_max_line_chars)
        found = reader.read(path)
        rows = sum(s.rows for s in found)
    result.write_text(f"  read {rows} rows ({reader.rejected.count} rejected) in "
                      f"{time.perf_counter() - started:.1f} s\n")  # fmt: skip


def main() -> None:
    base = cache_dir()
    settings, data = _registry(base, PEOPLE)
    files = data / "files"
    files.mkdir(exist_ok=True)
    env = {**os.environ, "VIGIE_DATA_DIR": str(data),
           "VIGIE_LEAK_MEMORY_LIMIT_MB": str(LIMIT_MB), "COLUMNS": "200"}  # fmt: skip
    print(f"{PEOPLE} people, bound {LIMIT_MB} MB, load average {os.getloadavg()[0]:.1f}",
          flush=True)  # fmt: skip
    if "invented" in PARTS:
        _show("vigie leak prepare", timed([str(VIGIE), "leak", "prepare"], env))
        _part_invented(settings, env, files)
    if "line" in PARTS:
        _part_line(env, files)
    if "big" in PARTS and BIG_GB > 0:
        messy = files / "fuite_ofii.csv"
        if not messy.exists():
            from benchmarks.bench_leaks import _write_files

            _write_files(settings, files)
        _part_big(env, files, messy)
    for fmt in ("jsonl", "json", "sql"):
        if fmt in PARTS:
            found = sorted(files.glob("fuite_ofii*.csv"))
            if not found:
                from benchmarks.bench_leaks import _write_files

                _write_files(settings, files)
                found = [files / "fuite_ofii.csv"]
            _part_structured(env, files, found[0], fmt)
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__" and sys.argv[1:2] == ["read"]:
    read_only(Path(sys.argv[2]), Path(sys.argv[3]))
