// liballoclab_capture.so: preloaded into a program (LD_PRELOAD), it records
// every malloc-family call with its thread into ALLOCLAB_CAPTURE_DIR
// (capture_event.hpp) and passes the call on to the next malloc in the
// lookup order (glibc's, or another preloaded allocator).
//
// What it must never do, and how it avoids it:
//   - allocate while recording: each thread appends to its own mmap'd buffer
//     reached through an initial-exec TLS pointer (no TLS allocation) and
//     writes it out with open/write/close when full; no libstdc++ or stdio;
//   - take a lock per call: the only shared write is one atomic counter
//     (the global order); a buffer's flag is contended only when a flush of
//     the whole process (its final flush) meets the owner's own flush;
//   - recurse while resolving the real functions: dlsym may call calloc, so
//     calls made by the resolving thread are served from a static buffer and
//     frees of that buffer are dropped, never passed to the real free;
//   - record the allocator's own nested calls (an allocator whose calloc
//     calls malloc): a per-thread flag passes nested calls straight through;
//   - change what the program sees: errno survives a flush, results are the
//     real allocator's, and the signals it flushes on (kFlushSignals) keep
//     their default action (the handler flushes, then re-raises); a handler
//     the program had at load time is left alone, one it installs later
//     replaces ours.
//   - lose events silently: each image's final flush (exit, _exit/_Exit,
//     execve, a fatal signal) writes its buffers and then PID-IMAGE.end with
//     the number of events it made (capture_event.hpp); that file is created
//     empty at the first event, so an image that never got to its final
//     flush (SIGKILL) shows.
// After fork() the child drops the buffers it inherited (the parent writes
// those events) and starts its own, named by its pid. A vfork() child (or a
// clone() without the fork handlers) shares the parent's buffers: its _exit
// and execve pass straight through, since getpid() is not the pid they
// belong to.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "workloads/capture/capture_event.hpp"

#define CAPTURE_TLS __thread __attribute__((tls_model("initial-exec")))
#define CAPTURE_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using alloclab::capture::Call;
using alloclab::capture::Event;

// --- the real functions -------------------------------------------------------

struct Real {
  void* (*malloc)(std::size_t);
  void (*free)(void*);
  void* (*calloc)(std::size_t, std::size_t);
  void* (*realloc)(void*, std::size_t);
  int (*posix_memalign)(void**, std::size_t, std::size_t);
  void* (*aligned_alloc)(std::size_t, std::size_t);
  void* (*memalign)(std::size_t, std::size_t);
  void* (*valloc)(std::size_t);
  void* (*pvalloc)(std::size_t);
  void* (*reallocarray)(void*, std::size_t, std::size_t);
  // Not allocation calls: the exec family, resolved here because a fork
  // child of a threaded program may not call dlsym.
  int (*execv)(const char*, char* const[]);
  int (*execvp)(const char*, char* const[]);
  int (*execvpe)(const char*, char* const[], char* const[]);
};
Real g_real;

enum : int { kUnresolved = 0, kResolving = 1, kReady = 2 };
std::atomic<int> g_state{kUnresolved};
bool g_on = false;  // a capture directory was given; written once during init

// Served to the resolving thread only; never reused, never freed.
constexpr std::size_t kBootBytes = 64 * 1024;
alignas(64) char g_boot[kBootBytes];
std::atomic<std::size_t> g_boot_used{0};

CAPTURE_TLS bool t_resolving = false;
CAPTURE_TLS bool t_busy = false;  // inside a hook: nested calls pass through unrecorded

bool in_boot(const void* p) {
  auto a = reinterpret_cast<std::uintptr_t>(p);
  auto lo = reinterpret_cast<std::uintptr_t>(g_boot);
  return a >= lo && a < lo + kBootBytes;
}

// 16-byte header holding the size, so realloc can copy a bootstrap block.
void* boot_alloc(std::size_t n, std::size_t align) {
  if (align < 16) align = 16;
  if (n > kBootBytes) return nullptr;
  std::size_t need = (16 + n + align - 1) & ~(align - 1);
  std::size_t at = g_boot_used.fetch_add(need + align, std::memory_order_relaxed);
  if (at + need + align > kBootBytes) return nullptr;
  auto base = reinterpret_cast<std::uintptr_t>(g_boot) + at + 16;
  base = (base + align - 1) & ~(align - 1);
  reinterpret_cast<std::size_t*>(base)[-1] = n;
  return reinterpret_cast<void*>(base);
}
std::size_t boot_size(const void* p) { return static_cast<const std::size_t*>(p)[-1]; }

// --- per-thread buffers -------------------------------------------------------

constexpr std::size_t kBufferBytes = 1 << 20;
constexpr std::size_t kPathMax = 4096;

struct alignas(64) Buffer {
  Buffer* next;                      // the registry; set before publication, then fixed
  std::atomic<std::uint32_t> count;  // events in events(); only the owner appends
  std::uint32_t written;             // events()[0, written) are in the file; under `lock`
  std::atomic<int> lock;             // held while events() go to the file
  int tid;
  char path[kPathMax];
  Event* events() { return reinterpret_cast<Event*>(this + 1); }
};
constexpr std::uint32_t kCapacity = static_cast<std::uint32_t>((kBufferBytes - sizeof(Buffer)) / sizeof(Event));

std::atomic<Buffer*> g_buffers{nullptr};
std::atomic<std::uint64_t> g_seq{0};
std::uint64_t g_image = 0;
char g_dir[kPathMax - 80];

// This process's image: the pid g_buffers belong to, g_seq when it began
// (nonzero in a fork child: the counter is inherited), whether it recorded
// an event (and so created g_end_path), and where its End record goes. Set
// at start-up and again in a fork child.
int g_pid = 0;
std::uint64_t g_seq_base = 0;
std::atomic<bool> g_started{false};
char g_end_path[kPathMax];
pthread_key_t g_key;
bool g_key_ok = false;

CAPTURE_TLS Buffer* t_buffer = nullptr;
CAPTURE_TLS bool t_no_buffer = false;  // mmap failed once; stop trying

int current_tid() { return static_cast<int>(::syscall(SYS_gettid)); }

char* put_number(char* out, std::uint64_t v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) *out++ = digits[--n];
  return out;
}

bool write_fully(int fd, const char* p, std::size_t n) {
  while (n) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// A file this process created as root stays writable after it drops to
// another user (a server's workers become nobody after their first events):
// the capture folder is then 01733, so only the capture reads the files.
void shareable(int fd) {
  if (::geteuid() == 0) (void)::fchmod(fd, 0666);
}

// Appends events()[written, count) to the thread's file. Caller holds b->lock.
void write_out(Buffer* b) {
  std::uint32_t n = b->count.load(std::memory_order_acquire);
  if (n <= b->written) return;
  int saved = errno;
  int fd = ::open(b->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0) {
    shareable(fd);
    // A short write (disk full) is cut back, so the file stays whole events.
    off_t before = ::lseek(fd, 0, SEEK_END);
    const char* from = reinterpret_cast<const char*>(b->events() + b->written);
    if (!write_fully(fd, from, (n - b->written) * sizeof(Event)) && before >= 0) (void)!::ftruncate(fd, before);
    ::close(fd);
  }
  b->written = n;
  errno = saved;
}

bool try_lock(Buffer* b, long spins) {
  for (long i = 0; i < spins; ++i) {
    int expected = 0;
    if (b->lock.compare_exchange_weak(expected, 1, std::memory_order_acquire)) return true;
    if (i > 64) ::sched_yield();
  }
  return false;
}
void unlock(Buffer* b) { b->lock.store(0, std::memory_order_release); }

// The owner's flush: writes everything and starts the buffer over.
void flush_own(Buffer* b, bool drop_pages) {
  while (!try_lock(b, 1 << 20)) {
  }
  write_out(b);
  b->count.store(0, std::memory_order_relaxed);
  b->written = 0;
  if (drop_pages) ::madvise(b->events(), kCapacity * sizeof(Event), MADV_DONTNEED);
  unlock(b);
}

// Every buffer of this process, as far as each can be had: a buffer whose
// lock stays taken (its owner was interrupted in its own flush by the
// signal running this) is left alone rather than waited for forever, and
// so is the calling thread's own when its lock is taken (a signal handler
// that calls _exit). Async-signal-safe.
void flush_all() {
  int self = current_tid();
  for (Buffer* b = g_buffers.load(std::memory_order_acquire); b; b = b->next) {
    if (!try_lock(b, b->tid == self ? 1 : 1 << 16)) continue;
    write_out(b);
    unlock(b);
  }
}

void on_thread_exit(void* p) { flush_own(static_cast<Buffer*>(p), true); }

// "DIR/PID-IMAGE.end", for the image running now.
void set_end_path() {
  char* p = g_end_path;
  std::size_t dir_len = std::strlen(g_dir);
  std::memcpy(p, g_dir, dir_len);
  p += dir_len;
  *p++ = '/';
  p = put_number(p, static_cast<std::uint64_t>(g_pid));
  *p++ = '-';
  p = put_number(p, g_image);
  std::memcpy(p, alloclab::capture::kEndSuffix, std::strlen(alloclab::capture::kEndSuffix) + 1);
}

// At the image's first event: its End file, empty until the final flush.
void mark_started() {
  if (g_started.exchange(true, std::memory_order_acq_rel)) return;
  int saved = errno;
  int fd = ::open(g_end_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) shareable(fd), ::close(fd);
  errno = saved;
}

// The image's final flush: every buffer, then its End record (written after
// the buffers, so a whole record means they went out). Async-signal-safe.
// Only in the process the buffers belong to, and only once it has recorded
// something.
void finish(alloclab::capture::Ending how, int code) {
  if (!g_on || !g_started.load(std::memory_order_acquire) || ::getpid() != g_pid) return;
  int saved = errno;
  flush_all();
  alloclab::capture::End end{alloclab::capture::kEndMagic, g_seq.load(std::memory_order_acquire) - g_seq_base, how,
                             code, 0};
  int fd = ::open(g_end_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    (void)write_fully(fd, reinterpret_cast<const char*>(&end), sizeof end);
    ::close(fd);
  }
  errno = saved;
}

Buffer* attach() {
  if (t_no_buffer) return nullptr;
  mark_started();
  int saved = errno;
  void* mem = ::mmap(nullptr, kBufferBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    t_no_buffer = true;
    errno = saved;
    return nullptr;
  }
  auto* b = static_cast<Buffer*>(mem);  // mmap'd memory is zero: count, written, lock
  b->tid = current_tid();
  char* p = b->path;
  std::size_t dir_len = std::strlen(g_dir);
  std::memcpy(p, g_dir, dir_len);
  p += dir_len;
  *p++ = '/';
  p = put_number(p, static_cast<std::uint64_t>(::getpid()));
  *p++ = '-';
  p = put_number(p, g_image);
  *p++ = '-';
  p = put_number(p, static_cast<std::uint64_t>(b->tid));
  std::memcpy(p, alloclab::capture::kFileSuffix, std::strlen(alloclab::capture::kFileSuffix) + 1);
  Buffer* head = g_buffers.load(std::memory_order_relaxed);
  do {
    b->next = head;
  } while (!g_buffers.compare_exchange_weak(head, b, std::memory_order_release, std::memory_order_relaxed));
  t_buffer = b;
  if (g_key_ok) ::pthread_setspecific(g_key, b);  // may calloc: we are inside a hook, so it passes through
  errno = saved;
  return b;
}

// Appends one event; the caller has set t_busy. An event with no buffer to
// go to still takes its number, so the End record counts it as lost.
void record(Call call, const void* ptr, std::uint64_t size, std::uint8_t align_log2) {
  Buffer* b = t_buffer ? t_buffer : attach();
  if (!b) {
    g_seq.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::uint32_t i = b->count.load(std::memory_order_relaxed);
  if (i == kCapacity) {
    flush_own(b, false);
    i = 0;
  }
  Event& e = b->events()[i];
  e.seq = g_seq.fetch_add(1, std::memory_order_relaxed);
  e.ptr = reinterpret_cast<std::uintptr_t>(ptr);
  e.size = size;
  e.call = call;
  e.align_log2 = align_log2;
  b->count.store(i + 1, std::memory_order_release);
}

std::uint8_t log2_of(std::size_t align) {
  return align && (align & (align - 1)) == 0 ? static_cast<std::uint8_t>(__builtin_ctzll(align)) : 0;
}

// --- start-up, fork, signals --------------------------------------------------

template <class F>
void resolve(F& slot, const char* name) {
  slot = reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

void init_once() {
  int expected = kUnresolved;
  if (!g_state.compare_exchange_strong(expected, kResolving, std::memory_order_acq_rel)) {
    while (g_state.load(std::memory_order_acquire) != kReady) ::sched_yield();
    return;
  }
  t_resolving = true;
  resolve(g_real.malloc, "malloc");
  resolve(g_real.free, "free");
  resolve(g_real.calloc, "calloc");
  resolve(g_real.realloc, "realloc");
  resolve(g_real.posix_memalign, "posix_memalign");
  resolve(g_real.aligned_alloc, "aligned_alloc");
  resolve(g_real.memalign, "memalign");
  resolve(g_real.valloc, "valloc");
  resolve(g_real.pvalloc, "pvalloc");
  resolve(g_real.reallocarray, "reallocarray");
  resolve(g_real.execv, "execv");
  resolve(g_real.execvp, "execvp");
  resolve(g_real.execvpe, "execvpe");
  t_resolving = false;
  if (!g_real.malloc || !g_real.free || !g_real.calloc || !g_real.realloc || !g_real.memalign) {
    static const char msg[] = "alloclab capture: cannot find the real malloc functions\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::abort();
  }
  const char* dir = ::getenv(alloclab::capture::kDirEnv);
  if (dir && *dir && std::strlen(dir) < sizeof g_dir) {
    std::memcpy(g_dir, dir, std::strlen(dir) + 1);
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    g_image = static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
    g_pid = ::getpid();
    set_end_path();
    g_on = true;
  }
  g_state.store(kReady, std::memory_order_release);
}

// The child keeps only its forking thread; the buffers it inherited hold
// the parent's events, which the parent writes.
void on_fork_child() {
  Buffer* b = g_buffers.exchange(nullptr, std::memory_order_relaxed);
  while (b) {
    Buffer* next = b->next;
    ::munmap(b, kBufferBytes);
    b = next;
  }
  t_buffer = nullptr;
  if (g_key_ok) ::pthread_setspecific(g_key, nullptr);  // or pthread_exit would flush an unmapped buffer
  if (!g_on) return;
  g_pid = ::getpid();
  g_seq_base = g_seq.load(std::memory_order_relaxed);
  g_started.store(false, std::memory_order_relaxed);
  set_end_path();
}

// Signals whose default action ends the process without exit(): the two
// sent to end a program, and the faults of a crash (a crash after 100
// mallocs must still give its 100 events).
constexpr int kFlushSignals[] = {SIGTERM, SIGINT, SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};

// Installed with SA_RESETHAND; the disposition is set to the default again
// here as well (SIGILL may keep its handler), so the re-raised signal,
// pending until we return, ends the process as it would have ended
// untraced. A fault raised by an instruction would also come back when the
// instruction runs again.
void on_signal(int sig) {
  finish(alloclab::capture::Ending::signal, sig);
  int saved = errno;
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);
  errno = saved;
}

__attribute__((constructor(101))) void on_load() {
  if (g_state.load(std::memory_order_acquire) != kReady) init_once();
  if (!g_on) return;
  g_key_ok = ::pthread_key_create(&g_key, on_thread_exit) == 0;
  ::pthread_atfork(nullptr, nullptr, on_fork_child);
  for (int sig : kFlushSignals) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)) continue;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }
}

__attribute__((destructor(101))) void on_unload() { finish(alloclab::capture::Ending::exit, 0); }

// Resolves the real functions on first use. True when this call is to be
// recorded: capture is on and the call is not nested in one of our hooks.
inline bool ready() {
  if (__builtin_expect(g_state.load(std::memory_order_acquire) != kReady, 0)) init_once();
  return g_on && !t_busy;
}

struct Busy {
  bool was = t_busy;
  Busy() { t_busy = true; }
  ~Busy() { t_busy = was; }
};

}  // namespace

// --- the interposed functions -------------------------------------------------

CAPTURE_EXPORT void* malloc(std::size_t n) {
  if (__builtin_expect(t_resolving, 0)) return boot_alloc(n, 16);
  if (!ready()) return g_real.malloc(n);
  Busy busy;
  void* p = g_real.malloc(n);
  record(Call::malloc, p, n, 0);
  return p;
}

CAPTURE_EXPORT void free(void* p) {
  if (!p || in_boot(p) || t_resolving) return;  // the resolver's frees leak: its blocks may be ours
  if (!ready()) return g_real.free(p);
  Busy busy;
  record(Call::free, p, 0, 0);  // before the block can be reused
  g_real.free(p);
}

CAPTURE_EXPORT void* calloc(std::size_t n, std::size_t m) {
  std::size_t bytes;
  bool overflow = __builtin_mul_overflow(n, m, &bytes);
  if (__builtin_expect(t_resolving, 0)) return overflow ? nullptr : boot_alloc(bytes, 16);
  if (!ready()) return g_real.calloc(n, m);
  Busy busy;
  void* p = g_real.calloc(n, m);
  record(Call::calloc, p, overflow ? UINT64_MAX : bytes, 0);
  return p;
}

namespace {

// realloc and reallocarray: the old block leaves the trace before the call
// (another thread may get its address as soon as the call frees it), the
// result enters after.
template <class F>
void* reallocate(Call call, void* p, std::uint64_t size, F&& real) {
  bool recording = ready();
  if (in_boot(p)) {
    // A block from the bootstrap buffer moves to the real allocator.
    Busy busy;
    void* q = real(nullptr);
    if (q) std::memcpy(q, p, boot_size(p) < size ? boot_size(p) : size);
    if (recording) record(Call::malloc, q, size, 0);
    return q;
  }
  if (!recording) return real(p);
  Busy busy;
  record(Call::realloc_old, p, 0, 0);
  void* q = real(p);
  record(call, q, size, 0);
  return q;
}

}  // namespace

CAPTURE_EXPORT void* realloc(void* p, std::size_t n) {
  if (__builtin_expect(t_resolving, 0)) {
    void* q = boot_alloc(n, 16);
    if (q && in_boot(p)) std::memcpy(q, p, boot_size(p) < n ? boot_size(p) : n);
    return q;
  }
  return reallocate(Call::realloc, p, n, [n](void* old) { return g_real.realloc(old, n); });
}

CAPTURE_EXPORT void* reallocarray(void* p, std::size_t n, std::size_t m) {
  std::size_t bytes;
  if (__builtin_mul_overflow(n, m, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (__builtin_expect(t_resolving, 0)) return realloc(p, bytes);
  return reallocate(Call::reallocarray, p, bytes, [n, m, bytes](void* old) {
    return g_real.reallocarray ? g_real.reallocarray(old, n, m) : g_real.realloc(old, bytes);
  });
}

CAPTURE_EXPORT int posix_memalign(void** out, std::size_t align, std::size_t n) {
  if (__builtin_expect(t_resolving, 0)) {
    *out = boot_alloc(n, align);
    return *out ? 0 : ENOMEM;
  }
  if (!ready()) return g_real.posix_memalign(out, align, n);
  Busy busy;
  int r = g_real.posix_memalign(out, align, n);
  record(Call::posix_memalign, r == 0 ? *out : nullptr, n, log2_of(align));
  return r;
}

CAPTURE_EXPORT void* aligned_alloc(std::size_t align, std::size_t n) {
  if (__builtin_expect(t_resolving, 0)) return boot_alloc(n, align);
  auto real = [](std::size_t a, std::size_t s) {
    return g_real.aligned_alloc ? g_real.aligned_alloc(a, s) : g_real.memalign(a, s);
  };
  if (!ready()) return real(align, n);
  Busy busy;
  void* p = real(align, n);
  record(Call::aligned_alloc, p, n, log2_of(align));
  return p;
}

CAPTURE_EXPORT void* memalign(std::size_t align, std::size_t n) {
  if (__builtin_expect(t_resolving, 0)) return boot_alloc(n, align);
  if (!ready()) return g_real.memalign(align, n);
  Busy busy;
  void* p = g_real.memalign(align, n);
  record(Call::memalign, p, n, log2_of(align));
  return p;
}

CAPTURE_EXPORT void* valloc(std::size_t n) {
  auto page = static_cast<std::size_t>(::getpagesize());
  if (__builtin_expect(t_resolving, 0)) return boot_alloc(n, page);
  auto real = [page](std::size_t s) { return g_real.valloc ? g_real.valloc(s) : g_real.memalign(page, s); };
  if (!ready()) return real(n);
  Busy busy;
  void* p = real(n);
  record(Call::valloc, p, n, log2_of(page));
  return p;
}

// Leaving without exit() skips the destructor: the final flush happens here.
// glibc's exit() reaches the kernel without calling these.
CAPTURE_EXPORT void _exit(int status) {
  if (g_state.load(std::memory_order_acquire) == kReady) finish(alloclab::capture::Ending::exit_now, status);
  for (;;) ::syscall(SYS_exit_group, status);
}

CAPTURE_EXPORT void _Exit(int status) noexcept { _exit(status); }

// The exec family: the image ends here if the call succeeds; if it fails,
// the End record is written again at the real end. glibc's members call
// each other (and posix_spawn calls the kernel) without going through these,
// so each is hooked. fexecve is not: its image ends unflushed, and says so.
namespace {

void exec_ends_image() {
  if (g_state.load(std::memory_order_acquire) != kReady) init_once();  // the real exec functions
  finish(alloclab::capture::Ending::exec, 0);
}

// execl's arguments as an argv (on the stack: exec may follow a fork of a
// threaded program, where malloc is not allowed); `envp` receives execle's.
template <class Exec>
int exec_list(const char* arg, va_list ap, bool with_env, Exec&& exec) {
  va_list count;
  va_copy(count, ap);
  std::size_t n = 1;
  while (va_arg(count, char*)) ++n;
  va_end(count);
  char** argv = static_cast<char**>(__builtin_alloca((n + 1) * sizeof(char*)));
  argv[0] = const_cast<char*>(arg);
  for (std::size_t i = 1; i <= n; ++i) argv[i] = va_arg(ap, char*);  // argv[n] is the NULL
  char** envp = with_env ? va_arg(ap, char**) : environ;
  return exec(argv, envp);
}

}  // namespace

CAPTURE_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  exec_ends_image();
  return static_cast<int>(::syscall(SYS_execve, path, argv, envp));
}

CAPTURE_EXPORT int execv(const char* path, char* const argv[]) noexcept {
  exec_ends_image();
  return g_real.execv ? g_real.execv(path, argv) : static_cast<int>(::syscall(SYS_execve, path, argv, environ));
}

CAPTURE_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  exec_ends_image();
  if (g_real.execvpe) return g_real.execvpe(file, argv, envp);
  errno = ENOSYS;
  return -1;
}

CAPTURE_EXPORT int execvp(const char* file, char* const argv[]) noexcept {
  exec_ends_image();
  if (g_real.execvp) return g_real.execvp(file, argv);
  errno = ENOSYS;
  return -1;
}

CAPTURE_EXPORT int execl(const char* path, const char* arg, ...) noexcept {
  va_list ap;
  va_start(ap, arg);
  int r = exec_list(arg, ap, false, [path](char** argv, char** envp) { return execve(path, argv, envp); });
  va_end(ap);
  return r;
}

CAPTURE_EXPORT int execle(const char* path, const char* arg, ...) noexcept {
  va_list ap;
  va_start(ap, arg);
  int r = exec_list(arg, ap, true, [path](char** argv, char** envp) { return execve(path, argv, envp); });
  va_end(ap);
  return r;
}

CAPTURE_EXPORT int execlp(const char* file, const char* arg, ...) noexcept {
  va_list ap;
  va_start(ap, arg);
  int r = exec_list(arg, ap, false, [file](char** argv, char** envp) { return execvpe(file, argv, envp); });
  va_end(ap);
  return r;
}

CAPTURE_EXPORT void* pvalloc(std::size_t n) {
  auto page = static_cast<std::size_t>(::getpagesize());
  if (__builtin_expect(t_resolving, 0)) return boot_alloc(n, page);
  auto real = [page](std::size_t s) {
    return g_real.pvalloc ? g_real.pvalloc(s) : g_real.memalign(page, (s + page - 1) & ~(page - 1));
  };
  if (!ready()) return real(n);
  Busy busy;
  void* p = real(n);
  record(Call::pvalloc, p, n, log2_of(page));
  return p;
}
