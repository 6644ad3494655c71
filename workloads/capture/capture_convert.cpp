#include "workloads/capture/capture_convert.hpp"

#include <string.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <queue>
#include <stdexcept>
#include <unordered_map>

#include "workloads/trace_builder.hpp"

namespace alloclab::capture {

namespace fs = std::filesystem;
using trace::TraceBuilder;

std::string_view call_name(Call c) {
  switch (c) {
    case Call::malloc:
      return "malloc";
    case Call::calloc:
      return "calloc";
    case Call::realloc:
      return "realloc";
    case Call::realloc_old:
      return "realloc_old";
    case Call::free:
      return "free";
    case Call::posix_memalign:
      return "posix_memalign";
    case Call::aligned_alloc:
      return "aligned_alloc";
    case Call::memalign:
      return "memalign";
    case Call::valloc:
      return "valloc";
    case Call::pvalloc:
      return "pvalloc";
    case Call::reallocarray:
      return "reallocarray";
  }
  return "call";
}

nlohmann::json ConvertStats::calls_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (int c = 1; c < kCallKinds; ++c) {
    auto call = static_cast<Call>(c);
    if (call != Call::realloc_old && calls[c]) j[std::string(call_name(call))] = calls[c];
  }
  return j;
}

nlohmann::json ConvertStats::skipped_json() const {
  return {{"unknown_frees", unknown_frees},  {"failed", failed},
          {"live_reuse", live_reuse},        {"oversize", oversize},
          {"align_clamped", align_clamped},  {"torn_bytes", torn_bytes},
          {"threads_folded", threads_folded}};
}

namespace {

struct FileName {
  std::uint64_t pid = 0, image = 0, tid = 0;
};

// "PID-IMAGE-TID.ev" (fields 3) or "PID-IMAGE.end" (fields 2).
bool parse_name(const std::string& name, std::string_view suffix, int fields, FileName& out) {
  std::string_view s = name;
  if (s.size() <= suffix.size() || s.substr(s.size() - suffix.size()) != suffix) return false;
  s.remove_suffix(suffix.size());
  std::uint64_t* field[] = {&out.pid, &out.image, &out.tid};
  for (int i = 0; i < fields; ++i) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *field[i]);
    if (ec != std::errc()) return false;
    s.remove_prefix(static_cast<std::size_t>(end - s.data()));
    if (i < fields - 1) {
      if (s.empty() || s.front() != '-') return false;
      s.remove_prefix(1);
    }
  }
  return s.empty();
}

// A whole End record, or nothing (empty: the image never finished; or
// anything that is not one).
std::optional<End> read_end(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  End end{};
  if (!in.read(reinterpret_cast<char*>(&end), sizeof end) || end.magic != kEndMagic) return std::nullopt;
  auto how = static_cast<std::uint32_t>(end.how);
  if (how < static_cast<std::uint32_t>(Ending::exit) || how > static_cast<std::uint32_t>(Ending::signal))
    return std::nullopt;
  return end;
}

// One thread's file, read a chunk at a time: a capture can hold far more
// events than it is worth keeping in memory at once.
class EventReader {
 public:
  EventReader(const std::string& path, std::uint64_t& torn) : path_(path), in_(path, std::ios::binary | std::ios::ate) {
    if (!in_) throw std::runtime_error("cannot read " + path);
    auto bytes = static_cast<std::uint64_t>(in_.tellg());
    torn += bytes % sizeof(Event);
    left_ = bytes / sizeof(Event);
    in_.seekg(0);
    refill();
  }
  bool done() const { return pos_ == buf_.size(); }
  const Event& peek() const { return buf_[pos_]; }
  void pop() {
    if (++pos_ == buf_.size()) refill();
  }

 private:
  static constexpr std::uint64_t kChunk = 4096;
  void refill() {
    buf_.resize(std::min(left_, kChunk));
    pos_ = 0;
    if (buf_.empty()) return;
    if (!in_.read(reinterpret_cast<char*>(buf_.data()), static_cast<std::streamsize>(buf_.size() * sizeof(Event))))
      throw std::runtime_error("cannot read " + path_);
    left_ -= buf_.size();
    for (const Event& e : buf_) {
      auto c = static_cast<int>(e.call);
      if (c < 1 || c >= kCallKinds) throw std::runtime_error(path_ + ": unknown call " + std::to_string(c));
    }
  }

  std::string path_;
  std::ifstream in_;
  std::uint64_t left_ = 0;  // events not yet read
  std::vector<Event> buf_;
  std::size_t pos_ = 0;
};

constexpr std::uint32_t kOversize = UINT32_MAX;  // an address whose block was left out

// The realloc_old half of a realloc, waiting for its result.
struct PendingRealloc {
  bool open = false;
  std::uint64_t old = 0;
  bool known = false;  // old was a slot (or an oversize block)
  std::uint32_t slot = 0;
};

class Converter {
 public:
  Converter(std::uint32_t threads, ConvertStats& stats)
      : builder_(std::min(threads, trace::kMaxThreads)), stats_(stats), pending_(threads) {}

  void apply(std::uint32_t thread, const Event& e) {
    ++stats_.calls[static_cast<std::size_t>(e.call)];
    std::uint32_t th = thread % trace::kMaxThreads;
    switch (e.call) {
      case Call::free:
        free_addr(th, e.ptr);
        break;
      case Call::realloc_old:
        realloc_old(thread, e.ptr);
        break;
      case Call::realloc:
      case Call::reallocarray:
        realloc_new(thread, th, e);
        break;
      default:
        alloc(th, e);
        break;
    }
  }

  trace::Trace finish(std::string metadata) { return builder_.finish(std::move(metadata)); }

 private:
  // A new block at e.ptr (or a failure).
  void alloc(std::uint32_t th, const Event& e) {
    if (e.ptr == 0) {
      ++stats_.failed;
      return;
    }
    claim(th, e.ptr);
    if (e.size > trace::kMaxSize) {
      ++stats_.oversize;
      live_[e.ptr] = kOversize;
      return;
    }
    std::uint8_t align = e.align_log2;
    if (align > trace::kMaxAlignLog2) {
      ++stats_.align_clamped;
      align = trace::kMaxAlignLog2;
    }
    live_[e.ptr] = builder_.alloc(th, static_cast<std::uint32_t>(e.size), TraceBuilder::kNone,
                                  align ? std::size_t{1} << align : 0);
  }

  // The address comes back from the allocator: whatever the trace still has
  // there was freed without a record.
  void claim(std::uint32_t th, std::uint64_t ptr) {
    auto it = live_.find(ptr);
    if (it == live_.end()) return;
    if (it->second != kOversize) {
      ++stats_.live_reuse;
      builder_.free(th, it->second);
    }
    live_.erase(it);
  }

  void free_addr(std::uint32_t th, std::uint64_t ptr) {
    auto it = live_.find(ptr);
    if (it == live_.end()) {
      ++stats_.unknown_frees;
      return;
    }
    if (it->second != kOversize) builder_.free(th, it->second);
    live_.erase(it);
  }

  void realloc_old(std::uint32_t thread, std::uint64_t ptr) {
    PendingRealloc& p = pending_[thread];
    p = {true, ptr, false, 0};
    if (ptr == 0) return;
    auto it = live_.find(ptr);
    if (it == live_.end()) return;
    p.known = true;
    p.slot = it->second;
    live_.erase(it);
  }

  void realloc_new(std::uint32_t thread, std::uint32_t th, const Event& e) {
    PendingRealloc p = pending_[thread];
    pending_[thread] = {};
    if (!p.open) {  // its first half is missing (a torn file): take it as an allocation
      alloc(th, e);
      return;
    }
    if (p.old == 0) {  // realloc(NULL, n) allocates
      alloc(th, e);
      return;
    }
    if (!p.known) ++stats_.unknown_frees;
    if (e.ptr == 0) {
      if (e.size == 0) {  // realloc(p, 0) freed p
        if (p.known && p.slot != kOversize) builder_.free(th, p.slot);
      } else {  // failed: the old block is untouched
        ++stats_.failed;
        if (p.known) live_[p.old] = p.slot;
      }
      return;
    }
    if (!p.known) {
      alloc(th, e);
      return;
    }
    if (p.slot == kOversize) {  // the old block was left out; the new one enters as an allocation
      alloc(th, e);
      return;
    }
    claim(th, e.ptr);
    if (e.size > trace::kMaxSize) {
      ++stats_.oversize;
      builder_.free(th, p.slot);
      live_[e.ptr] = kOversize;
      return;
    }
    builder_.realloc(th, p.slot, static_cast<std::uint32_t>(e.size));
    live_[e.ptr] = p.slot;
  }

  TraceBuilder builder_;
  ConvertStats& stats_;
  std::vector<PendingRealloc> pending_;                    // per thread as captured
  std::unordered_map<std::uint64_t, std::uint32_t> live_;  // address -> slot (or kOversize)
};

}  // namespace

std::vector<ProcessEvents> scan(const std::string& dir) {
  std::map<std::pair<std::uint64_t, std::uint64_t>, ProcessEvents> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    FileName f;
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    if (parse_name(name, kFileSuffix, 3, f)) {
      auto& p = found[{f.pid, f.image}];
      p.pid = f.pid;
      p.image = f.image;
      p.events += entry.file_size() / sizeof(Event);
      p.files.push_back(entry.path().string());
    } else if (parse_name(name, kEndSuffix, 2, f)) {
      auto& p = found[{f.pid, f.image}];
      p.pid = f.pid;
      p.image = f.image;
      p.end_file = true;
      p.end = read_end(entry.path());
    }
  }
  if (ec) throw std::runtime_error("cannot read " + dir + ": " + ec.message());
  std::vector<ProcessEvents> out;
  for (auto& [key, p] : found) {
    std::sort(p.files.begin(), p.files.end());
    out.push_back(std::move(p));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.events > b.events; });
  return out;
}

std::string describe_ending(const ProcessEvents& p) {
  if (!p.end_file) return "";
  if (!p.end) return "no final flush";
  switch (p.end->how) {
    case Ending::exit:
      return "exit";
    case Ending::exit_now:
      return "_exit(" + std::to_string(p.end->code) + ")";
    case Ending::exec:
      return "exec";
    case Ending::signal: {
      const char* name = ::sigabbrev_np(p.end->code);
      return "killed by " + (name ? "SIG" + std::string(name) : "signal " + std::to_string(p.end->code));
    }
  }
  return "";
}

Converted convert(const ProcessEvents& process, nlohmann::json metadata) {
  Converted out;
  ConvertStats& st = out.stats;
  std::vector<std::unique_ptr<EventReader>> threads;
  for (const auto& file : process.files) {
    auto reader = std::make_unique<EventReader>(file, st.torn_bytes);
    if (!reader->done()) threads.push_back(std::move(reader));
  }
  // Thread 0 is the one that allocated first (the main thread, as a rule).
  std::sort(threads.begin(), threads.end(), [](const auto& a, const auto& b) { return a->peek().seq < b->peek().seq; });
  st.threads = static_cast<std::uint32_t>(threads.size());
  if (threads.size() > trace::kMaxThreads) st.threads_folded = st.threads - trace::kMaxThreads;

  Converter conv(std::max<std::uint32_t>(st.threads, 1), st);
  using Head = std::pair<std::uint64_t, std::uint32_t>;  // next seq, thread
  std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
  for (std::uint32_t t = 0; t < threads.size(); ++t) heads.push({threads[t]->peek().seq, t});
  while (!heads.empty()) {
    std::uint32_t t = heads.top().second;
    heads.pop();
    EventReader& r = *threads[t];
    conv.apply(t, r.peek());
    ++st.events;
    r.pop();
    if (!r.done()) heads.push({r.peek().seq, t});
  }

  if (!metadata.is_object()) metadata = nlohmann::json::object();
  metadata["model"] = "capture";
  metadata["pid"] = process.pid;
  metadata["threads"] = st.threads;
  metadata["events"] = st.events;
  if (process.end_file) {
    metadata["ended"] = describe_ending(process);
    if (process.end) metadata["lost_events"] = process.lost();
  }
  metadata["calls"] = st.calls_json();
  metadata["skipped"] = st.skipped_json();
  out.trace = conv.finish(metadata.dump());
  return out;
}

}  // namespace alloclab::capture
