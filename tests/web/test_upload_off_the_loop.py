"""An upload's file work (reading the formats, the duplicate check, hashing and copying into the
archive) runs beside the event loop: while it waits on the disk, the other pages still answer.

The disk is made to wait on the test: LTV_HOME/formats.toml is a named pipe, so each time the
upload reads it (when it checks the chosen format, and when it hands the file to the pipeline)
the read blocks until the test writes the file's text into the pipe.
"""

from __future__ import annotations

import array
import errno
import fcntl
import os
import termios
import threading
import time
from pathlib import Path

import httpx

from tests.support import LIMITED_SAMPLE
from tests.web.services import Pages

READER_WAIT_SECONDS = 120  # the second read comes after Dagster is imported, on a busy machine


def wait_for_reader(fifo: Path, upload_done: threading.Event, answers: list[httpx.Response]) -> int:
    """The write end of `fifo`, opened once the pages have opened it for reading."""
    deadline = time.monotonic() + READER_WAIT_SECONDS
    while time.monotonic() < deadline:
        if upload_done.is_set():
            raise AssertionError(f"the upload answered without reading formats.toml: {answers}")
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: nobody has it open for reading yet
                raise
        time.sleep(0.05)
    raise AssertionError("the upload never read formats.toml")


def readers(pid: int, fifo: Path) -> int:
    """How many file descriptors of process `pid` have `fifo` open."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd) == str(fifo)
        except OSError:
            continue  # closed while we looked
    return count


def unread_bytes(write_end: int) -> int:
    """Bytes written into the pipe that its reader has not read yet."""
    count = array.array("i", [0])
    fcntl.ioctl(write_end, termios.FIONREAD, count)
    return count[0]


def serve(write_end: int, pid: int, fifo: Path) -> None:
    """Give the blocked reader a formats file with no user additions, end it, and wait until the
    reader has read it and closed the pipe: otherwise the next stage could take that same reader
    for the next one and feed it, and the real next read would wait for ever. The write also
    moves the pipe's modification time, so the next read is not answered from the cache."""
    os.set_blocking(write_end, True)
    os.write(write_end, b"# no additions\n")
    deadline = time.monotonic() + READER_WAIT_SECONDS
    while unread_bytes(write_end) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.close(write_end)  # the reader has its descriptor (it has read through it): now its EOF
    while readers(pid, fifo) and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_pages_answer_while_an_upload_is_doing_its_file_work(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    fifo = home / "formats.toml"
    os.mkfifo(fifo)
    pages = Pages(home, {"DAGSTER_HOME": str(home / "dagster")})
    answers: list[httpx.Response] = []
    upload_done = threading.Event()

    def post() -> None:
        try:
            answers.append(
                httpx.post(
                    f"{pages.base}/upload",
                    files={"file": ("plans.csv", LIMITED_SAMPLE.read_bytes(), "text/csv")},
                    data={"format": "samcart-limited-subscriptions"},
                    timeout=300,
                )
            )
        finally:
            upload_done.set()

    uploader = threading.Thread(target=post, daemon=True)
    write_end = None
    try:
        uploader.start()
        for stage in ("checking the chosen format", "handing the file to the pipeline"):
            write_end = wait_for_reader(fifo, upload_done, answers)
            # The upload's handler is now blocked in a read; a page must answer all the same.
            try:
                health = httpx.get(f"{pages.base}/healthz", timeout=30)
            except httpx.TimeoutException:
                raise AssertionError(f"the pages froze while the upload was {stage}") from None
            assert health.status_code == 200 and health.text == "ok"
            assert not upload_done.is_set(), f"the upload finished while {stage} was blocked"
            serve(write_end, pages.process.pid, fifo)
            write_end = None
        assert upload_done.wait(300), "the upload never answered"
        [answer] = answers
        assert answer.status_code == 303, answer.text
        assert list((home / "archive").glob("*.json")), "the file was not archived"
    finally:
        if write_end is not None:
            serve(write_end, pages.process.pid, fifo)
        pages.stop()
