"""One scratch directory per bench run, whose subdirectories ext4 places in fresh block groups.

Why: on ext4 without a journal (this kind of machine's root file system), creating a file
skips every free inode of the directory's block group that was deleted in the last 60 s, or
360 s while its inode-table block is dirty (fs/ext4/ialloc.c, recently_deleted()), and scans
past each one on every creation. Nested directories are placed in their parent's group, so
every run's stores land in the same groups of /tmp, beside the files the previous run (or a
test suite) deleted. Measured here, the same binary 30-90 s after a previous run: Tern 2,266-
2,533 msg/s at 0.52-0.60 ms CPU/msg and the disk probe 2,075-3,434 creations/s; in spread
directories: 3,878-4,875 msg/s at 0.25-0.30 ms and 5,421-6,179 creations/s. That is the
previous run's leftovers measured, not the server or the disk.

With the TOPDIR flag (chattr +T) on the run's root, ext4's Orlov allocator spreads each
directory made in it (every server's store and the probe's, alike) over groups with free
inodes to spare, as it does for directories made in /. On other file systems the flag is
refused or ignored and the run simply uses the plain directory.
"""
import contextlib
import fcntl
import os
import shutil
import struct
import tempfile

FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_TOPDIR_FL = 0x00020000


def _set_topdir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # The kernel reads and writes an int here, whatever the ioctl number's type says.
        flags = struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, struct.pack("i", 0)))[0]
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", flags | FS_TOPDIR_FL))
        flags = struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, struct.pack("i", 0)))[0]
        return bool(flags & FS_TOPDIR_FL)
    finally:
        os.close(fd)


@contextlib.contextmanager
def run_scratch(prefix="tb-"):
    """Makes the run's root (mode 755: the peers' unprivileged processes must traverse it),
    points tempfile and $TMPDIR at it for the run, yields (root, spread), removes it after."""
    root = tempfile.mkdtemp(prefix=prefix)
    os.chmod(root, 0o755)
    try:
        spread = _set_topdir(root)
    except OSError:
        spread = False
    saved_tempdir, saved_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = root
    os.environ["TMPDIR"] = root
    try:
        yield root, spread
    finally:
        tempfile.tempdir = saved_tempdir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        shutil.rmtree(root, ignore_errors=True)
