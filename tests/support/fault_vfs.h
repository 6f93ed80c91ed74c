// Tests only: a SQLite VFS that forwards to the default one and fails, on demand, the writes
// or the syncs of files whose name contains a given text, with what the kernel would have
// caused: ENOSPC -> SQLITE_FULL, EIO -> SQLITE_IOERR_WRITE / SQLITE_IOERR_FSYNC. Installed as
// the process's default VFS, so code under test opens its databases through it unchanged.
//
//   tern::testing::FaultVfs::install();
//   tern::testing::FaultVfs::arm(FaultVfs::Op::sync, "index.db-wal", EIO);   // every call
//   ... the COMMIT fails ...
//   tern::testing::FaultVfs::disarm();
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

namespace tern::testing {

class FaultVfs {
 public:
  enum class Op { write, sync };

  static void install() {
    static std::once_flag once;
    std::call_once(once, [] {
      sqlite3_initialize();
      real() = sqlite3_vfs_find(nullptr);
      auto& v = vfs();
      v = *real();
      v.szOsFile = static_cast<int>(sizeof(File)) + real()->szOsFile;
      v.zName = "tern-fault";
      v.pNext = nullptr;
      v.xOpen = open;
      v.xDelete = [](sqlite3_vfs*, const char* n, int s) { return real()->xDelete(real(), n, s); };
      v.xAccess = [](sqlite3_vfs*, const char* n, int f, int* o) { return real()->xAccess(real(), n, f, o); };
      v.xFullPathname = [](sqlite3_vfs*, const char* n, int sz, char* o) {
        return real()->xFullPathname(real(), n, sz, o);
      };
      v.xDlOpen = [](sqlite3_vfs*, const char* n) { return real()->xDlOpen(real(), n); };
      v.xDlError = [](sqlite3_vfs*, int n, char* m) { real()->xDlError(real(), n, m); };
      v.xDlSym = [](sqlite3_vfs*, void* h, const char* s) { return real()->xDlSym(real(), h, s); };
      v.xDlClose = [](sqlite3_vfs*, void* h) { real()->xDlClose(real(), h); };
      v.xRandomness = [](sqlite3_vfs*, int n, char* o) { return real()->xRandomness(real(), n, o); };
      v.xSleep = [](sqlite3_vfs*, int us) { return real()->xSleep(real(), us); };
      v.xCurrentTime = [](sqlite3_vfs*, double* t) { return real()->xCurrentTime(real(), t); };
      v.xGetLastError = [](sqlite3_vfs*, int n, char* m) { return real()->xGetLastError(real(), n, m); };
      v.xCurrentTimeInt64 = [](sqlite3_vfs*, sqlite3_int64* t) {
        return real()->xCurrentTimeInt64(real(), t);
      };
      v.xSetSystemCall = nullptr;
      v.xGetSystemCall = nullptr;
      v.xNextSystemCall = nullptr;
      if (v.iVersion > 2) v.iVersion = 2;
      sqlite3_vfs_register(&v, 1);
    });
  }

  // From now on every `op` on a file whose name contains `name_part` fails with `err`
  // (ENOSPC or EIO), until disarm() or `times` failures (-1: no limit); `after` calls
  // succeed first.
  static void arm(Op op, const std::string& name_part, int err, int times = -1, int after = 0) {
    std::lock_guard lock(mu());
    state().op = op;
    state().name_part = name_part;
    state().err = err;
    state().skip = after;
    state().times = times;
    state().hits = 0;
    state().armed = true;
  }
  static void disarm() {
    std::lock_guard lock(mu());
    state().armed = false;
  }
  static int hits() {
    std::lock_guard lock(mu());
    return state().hits;
  }

 private:
  struct State {
    bool armed = false;
    Op op = Op::write;
    std::string name_part;
    int err = 0;
    int skip = 0;
    int times = -1;
    int hits = 0;
  };
  struct File {
    sqlite3_file base;
    const char* name;
    sqlite3_file* inner() { return reinterpret_cast<sqlite3_file*>(this + 1); }
  };

  static std::mutex& mu() {
    static std::mutex m;
    return m;
  }
  static State& state() {
    static State s;
    return s;
  }
  static sqlite3_vfs*& real() {
    static sqlite3_vfs* r = nullptr;
    return r;
  }
  static sqlite3_vfs& vfs() {
    static sqlite3_vfs v{};
    return v;
  }
  static File* self(sqlite3_file* f) { return reinterpret_cast<File*>(f); }

  // The error to return for `op` on `f` now, or SQLITE_OK.
  static int fault(sqlite3_file* f, Op op) {
    std::lock_guard lock(mu());
    auto& s = state();
    const char* n = self(f)->name;
    if (!s.armed || s.op != op || !n || !std::strstr(n, s.name_part.c_str())) return SQLITE_OK;
    if (s.skip > 0) {
      --s.skip;
      return SQLITE_OK;
    }
    if (s.times >= 0 && s.hits >= s.times) return SQLITE_OK;
    ++s.hits;
    if (s.err == ENOSPC) return SQLITE_FULL;
    return op == Op::write ? SQLITE_IOERR_WRITE : SQLITE_IOERR_FSYNC;
  }

  static const sqlite3_io_methods* methods() {
    static const sqlite3_io_methods m = {
        3,
        [](sqlite3_file* f) {
          int rc = self(f)->inner()->pMethods ? self(f)->inner()->pMethods->xClose(self(f)->inner())
                                              : SQLITE_OK;
          return rc;
        },
        [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
          return self(f)->inner()->pMethods->xRead(self(f)->inner(), b, n, o);
        },
        [](sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
          if (int rc = fault(f, Op::write)) return rc;
          return self(f)->inner()->pMethods->xWrite(self(f)->inner(), b, n, o);
        },
        [](sqlite3_file* f, sqlite3_int64 sz) {
          return self(f)->inner()->pMethods->xTruncate(self(f)->inner(), sz);
        },
        [](sqlite3_file* f, int flags) {
          if (int rc = fault(f, Op::sync)) return rc;
          return self(f)->inner()->pMethods->xSync(self(f)->inner(), flags);
        },
        [](sqlite3_file* f, sqlite3_int64* sz) {
          return self(f)->inner()->pMethods->xFileSize(self(f)->inner(), sz);
        },
        [](sqlite3_file* f, int l) { return self(f)->inner()->pMethods->xLock(self(f)->inner(), l); },
        [](sqlite3_file* f, int l) { return self(f)->inner()->pMethods->xUnlock(self(f)->inner(), l); },
        [](sqlite3_file* f, int* o) {
          return self(f)->inner()->pMethods->xCheckReservedLock(self(f)->inner(), o);
        },
        [](sqlite3_file* f, int op, void* a) {
          return self(f)->inner()->pMethods->xFileControl(self(f)->inner(), op, a);
        },
        [](sqlite3_file* f) { return self(f)->inner()->pMethods->xSectorSize(self(f)->inner()); },
        [](sqlite3_file* f) {
          return self(f)->inner()->pMethods->xDeviceCharacteristics(self(f)->inner());
        },
        [](sqlite3_file* f, int pg, int sz, int ext, void volatile** p) {
          return self(f)->inner()->pMethods->xShmMap(self(f)->inner(), pg, sz, ext, p);
        },
        [](sqlite3_file* f, int off, int n, int flags) {
          return self(f)->inner()->pMethods->xShmLock(self(f)->inner(), off, n, flags);
        },
        [](sqlite3_file* f) { self(f)->inner()->pMethods->xShmBarrier(self(f)->inner()); },
        [](sqlite3_file* f, int del) {
          return self(f)->inner()->pMethods->xShmUnmap(self(f)->inner(), del);
        },
        // No memory-mapped reads through the wrapper (mmap_size is 0 by default anyway).
        [](sqlite3_file*, sqlite3_int64, int, void** p) {
          *p = nullptr;
          return SQLITE_OK;
        },
        [](sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; },
    };
    return &m;
  }

  static int open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
    File* file = self(f);
    file->base.pMethods = nullptr;
    // SQLite keeps `name` valid until the file is closed (the main db, its -wal, temp files).
    file->name = name;
    int rc = real()->xOpen(real(), name, file->inner(), flags, out_flags);
    if (rc == SQLITE_OK) {
      file->base.pMethods = methods();
    } else if (file->inner()->pMethods) {
      file->inner()->pMethods->xClose(file->inner());
    }
    return rc;
  }
};

}  // namespace tern::testing
