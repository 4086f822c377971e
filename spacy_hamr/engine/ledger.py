"""The results ledger: one JSON line per finished run, appended and synced to
disk as the run ends, keyed by what makes the run (RunSpec.key). An interrupted
job keeps every line it wrote; a re-run trains only the runs without one."""

import json
import os
import warnings
from pathlib import Path
from typing import Dict


class Ledger:
    def __init__(self, path: Path):
        self.path = Path(path)

    def records(self) -> Dict[str, Dict]:
        """{key: record} of the finished runs (the last record of a key wins)."""
        if not self.path.exists():
            return {}
        records = {}
        lines = self.path.read_text(encoding="utf8").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                # Only a write cut short (a machine that lost power) leaves a partial last line.
                warnings.warn(f"{self.path}, line {number}: not a whole record, ignored; that run trains again")
                continue
            records[record["key"]] = record
        return records

    def append(self, record: Dict) -> None:
        """Write one finished run's record and sync it to disk before going on."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf8") as file:
            # After a write cut short, the next record starts on a line of its own.
            torn = file.tell() > 0 and not self.path.read_bytes().endswith(b"\n")
            file.write(("\n" if torn else "") + json.dumps(record) + "\n")
            file.flush()
            os.fsync(file.fileno())
