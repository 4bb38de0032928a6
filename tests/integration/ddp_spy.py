"""torchrun entry point for test_ddp: edgeunet's CLI, with every checkpoint and metrics write logged with its rank.

Why a spy and not a count of files: a second writer would silently replace the same best.pt/last.pt/metrics.csv,
so only logging each write (RANK, what, file) shows that rank 0 alone wrote each of them, once per epoch.
Nothing is replaced: the real functions run unchanged.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any, Callable

from edgeunet.cli import main
from edgeunet.train import trainer as train_module

LOG = os.environ["EDGEUNET_WRITE_LOG"]


def _logged(func: Callable[..., Any], what: str) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
        with open(LOG, "a", encoding="utf-8") as log:  # O_APPEND: lines from two processes never interleave
            log.write(f"{os.environ.get('RANK', '0')} {what} {Path(path).name}\n")
        return func(path, *args, **kwargs)

    return wrapper


train_module.save_checkpoint = _logged(train_module.save_checkpoint, "checkpoint")
train_module.write_metrics_csv = _logged(train_module.write_metrics_csv, "metrics")

if __name__ == "__main__":
    main(sys.argv[1:])
