#include "workloads/trace_binary.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "workloads/atomic_file.hpp"
#include "workloads/regular_file.hpp"
#include "workloads/trace_check.hpp"

static_assert(std::endian::native == std::endian::little, "the trace format is little-endian");

namespace alloclab::trace {
namespace {

template <class T>
T load(std::span<const std::byte> b, std::size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

std::string metadata_problem(std::string_view m) {
  for (unsigned char c : m)
    if (c < 0x20) return "metadata holds a control character (it must be one line of JSON)";
  if (m.empty() || m.front() != '{' || !nlohmann::json::accept(m)) return "metadata is not a JSON object";
  return {};
}

struct Header {
  std::uint32_t threads, slots, scopes, edges, meta;
  std::uint64_t ops;
};

// Checks the fixed header and the counts against the file size. Nothing is
// allocated before this passes.
Header read_header(std::span<const std::byte> b) {
  if (b.size() < kHeaderBytes)
    throw TraceError(at_byte(b.size()), "file ends inside the " + std::to_string(kHeaderBytes) + "-byte header");
  if (std::memcmp(b.data(), kMagic, sizeof kMagic) != 0)
    throw TraceError(at_byte(0), "not an alloclab trace (wrong magic)");
  auto version = load<std::uint32_t>(b, 8);
  if (version != kVersion)
    throw TraceError(at_byte(8), "unknown version " + std::to_string(version) + " (this build reads version " +
                                     std::to_string(kVersion) + ")");
  Header h{load<std::uint32_t>(b, 12), load<std::uint32_t>(b, 16), load<std::uint32_t>(b, 20),
           load<std::uint32_t>(b, 24), load<std::uint32_t>(b, 28), load<std::uint64_t>(b, 32)};
  if (h.threads == 0 || h.threads > kMaxThreads)
    throw TraceError(at_byte(12), "thread count " + std::to_string(h.threads) + " outside 1.." + std::to_string(kMaxThreads));
  if (h.meta > kMaxMetadataBytes)
    throw TraceError(at_byte(28), "metadata of " + std::to_string(h.meta) + " bytes, above the limit of 1 MiB");
  if (load<std::uint64_t>(b, 40) != 0) throw TraceError(at_byte(40), "reserved field is not zero");
  std::uint64_t table_end = kHeaderBytes + 8ull * h.threads;
  std::uint64_t body = table_end + h.meta;
  // Every op takes 16 bytes, so the file size bounds the op count before
  // any count is believed.
  std::uint64_t room = b.size() >= body ? (b.size() - body) / sizeof(Op) : 0;
  if (h.ops > room)
    throw TraceError(at_byte(32), "header claims " + std::to_string(h.ops) + " ops but the file holds room for " +
                                      std::to_string(room));
  if (b.size() != body + h.ops * sizeof(Op))
    throw TraceError(at_byte(body + h.ops * sizeof(Op)),
                     "file is " + std::to_string(b.size()) + " bytes, the header accounts for " +
                         std::to_string(body + h.ops * sizeof(Op)));
  if (h.slots > h.ops)
    throw TraceError(at_byte(16), "slot count " + std::to_string(h.slots) + " exceeds the op count " + std::to_string(h.ops));
  if (h.scopes > h.ops)
    throw TraceError(at_byte(20), "scope count " + std::to_string(h.scopes) + " exceeds the op count " + std::to_string(h.ops));
  if (h.edges > h.ops / 2)
    throw TraceError(at_byte(24), "edge count " + std::to_string(h.edges) + " exceeds half the op count " + std::to_string(h.ops));
  return h;
}

}  // namespace

std::uint64_t op_offset(const Trace& t, std::uint32_t thread, std::uint64_t index) {
  std::uint64_t off = kHeaderBytes + 8ull * t.threads.size() + t.metadata.size();
  for (std::uint32_t i = 0; i < thread && i < t.threads.size(); ++i) off += t.threads[i].size() * sizeof(Op);
  return off + index * sizeof(Op);
}

void check_binary(const Trace& t) {
  try {
    check(t);
  } catch (OpFault& f) {
    throw TraceError(at_byte(op_offset(t, f.thread, f.index)), f.problem);
  }
}

Trace decode(std::span<const std::byte> b) {
  Header h = read_header(b);
  Trace t;
  t.slot_count = h.slots;
  t.scope_count = h.scopes;
  t.edge_count = h.edges;
  std::uint64_t sum = 0;
  std::vector<std::uint64_t> counts(h.threads);
  for (std::uint32_t i = 0; i < h.threads; ++i) {
    counts[i] = load<std::uint64_t>(b, kHeaderBytes + 8ull * i);
    if (counts[i] > h.ops - sum)
      throw TraceError(at_byte(kHeaderBytes + 8ull * i), "per-thread op counts sum past the header's " +
                                                              std::to_string(h.ops) + " ops");
    sum += counts[i];
  }
  if (sum != h.ops)
    throw TraceError(at_byte(kHeaderBytes), "per-thread op counts sum to " + std::to_string(sum) + ", the header says " +
                                                std::to_string(h.ops));
  std::size_t meta_at = kHeaderBytes + 8ull * h.threads;
  t.metadata.assign(reinterpret_cast<const char*>(b.data() + meta_at), h.meta);
  if (auto p = metadata_problem(t.metadata); !p.empty()) throw TraceError(at_byte(meta_at), p);
  std::size_t at = meta_at + h.meta;
  t.threads.resize(h.threads);
  for (std::uint32_t i = 0; i < h.threads; ++i) {
    t.threads[i].resize(counts[i]);
    if (counts[i] != 0) std::memcpy(t.threads[i].data(), b.data() + at, counts[i] * sizeof(Op));
    at += counts[i] * sizeof(Op);
  }
  check_binary(t);
  return t;
}

Trace read_file(const std::string& path) {
  std::string text;
  try {
    text = read_regular_file(path);
  } catch (const RegularFileError& e) {
    throw TraceError("", e.what());
  }
  return decode(std::span<const std::byte>(reinterpret_cast<const std::byte*>(text.data()), text.size()));
}

namespace {
// Header, per-thread table and metadata: everything before the ops.
std::vector<std::byte> encode_head(const Trace& t, std::size_t extra) {
  std::vector<std::byte> out(kHeaderBytes + 8 * t.threads.size() + t.metadata.size() + extra);
  auto put = [&](std::size_t off, auto v) { std::memcpy(out.data() + off, &v, sizeof v); };
  std::memcpy(out.data(), kMagic, sizeof kMagic);
  put(8, kVersion);
  put(12, static_cast<std::uint32_t>(t.threads.size()));
  put(16, t.slot_count);
  put(20, t.scope_count);
  put(24, t.edge_count);
  put(28, static_cast<std::uint32_t>(t.metadata.size()));
  put(32, t.op_count());
  put(40, std::uint64_t{0});
  std::size_t at = kHeaderBytes;
  for (const auto& s : t.threads) put(at, static_cast<std::uint64_t>(s.size())), at += 8;
  std::memcpy(out.data() + at, t.metadata.data(), t.metadata.size());
  return out;
}
}  // namespace

std::vector<std::byte> encode(const Trace& t) {
  std::vector<std::byte> out = encode_head(t, t.op_count() * sizeof(Op));
  std::size_t at = kHeaderBytes + 8 * t.threads.size() + t.metadata.size();
  for (const auto& s : t.threads) {
    if (!s.empty()) std::memcpy(out.data() + at, s.data(), s.size() * sizeof(Op));
    at += s.size() * sizeof(Op);
  }
  return out;
}

void write_file(const Trace& t, const std::string& path) {
  write_atomically(path, [&](int fd) {
    auto head = encode_head(t, 0);
    if (!write_all(fd, head.data(), head.size())) return false;
    for (const auto& s : t.threads)
      if (!s.empty() && !write_all(fd, s.data(), s.size() * sizeof(Op))) return false;
    return true;
  });
}

}  // namespace alloclab::trace
