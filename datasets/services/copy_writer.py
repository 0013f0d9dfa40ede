"""PostgreSQL: write an upload's rows while they are still being validated.

A second thread, with its own connection and transaction, streams the validated lines into `COPY` as they come,
so the server parses and indexes on one core while Python validates on the other. Nothing is visible until the
thread commits; `abort()` (bad rows, a cancelled job) or a dead worker rolls everything back, as the single
transaction of the non-pipelined path would.
"""

import queue
import threading
from collections.abc import Callable

from django.db import connection, transaction

from datasets.models import DatasetRow

BLOCK_CHARS = 1 << 20
_END, _ABORT = object(), object()


class _Aborted(Exception):
    pass


class PipelinedCopy:
    def __init__(self, *, create_version: Callable[[], int], finish_version: Callable[[int, dict], None]):
        self._create_version = create_version
        self._finish_version = finish_version
        self._queue: queue.Queue = queue.Queue(maxsize=8)  # bounds memory: validation waits when COPY lags
        self._buffer: list[str] = []
        self._size = 0
        self._fields: dict = {}
        self.error: BaseException | None = None
        self.version_id: int | None = None
        self._thread = threading.Thread(target=self._run, name="pipelined-copy", daemon=True)
        self._thread.start()

    # The validator writes to this object as to a file.
    def write(self, text: str) -> None:
        self._buffer.append(text)
        self._size += len(text)
        if self._size >= BLOCK_CHARS:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._put("".join(self._buffer))
            self._buffer, self._size = [], 0

    def _put(self, item) -> None:
        while True:
            if not self._thread.is_alive():
                raise self.error or RuntimeError("the COPY thread stopped")
            try:
                self._queue.put(item, timeout=1)
                return
            except queue.Full:
                continue

    def commit(self, **fields) -> int:
        """Write what is left, set the version's final fields, commit; returns the version id."""
        self._flush()
        self._fields = fields
        self._put(_END)
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.version_id

    def abort(self) -> None:
        if self._thread.is_alive():
            try:
                self._queue.put(_ABORT, timeout=5)
            except queue.Full:
                pass
            self._thread.join(timeout=60)

    def _run(self) -> None:
        table = DatasetRow._meta.db_table
        try:
            with transaction.atomic():
                self.version_id = self._create_version()
                prefix = f"{self.version_id}\t"
                connection.ensure_connection()
                with (
                    connection.connection.cursor() as raw,
                    raw.copy(
                        f'COPY "{table}" ("version_id", "row_number", "ubigeo", "key", "values") FROM STDIN'
                    ) as copy,
                ):
                    while (item := self._queue.get()) is not _END:
                        if item is _ABORT:
                            raise _Aborted
                        copy.write(prefix + item[:-1].replace("\n", "\n" + prefix) + "\n")
                self._finish_version(self.version_id, self._fields)
        except _Aborted:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the validating thread, which raises it
            self.error = exc
        finally:
            connection.close()
