#include "workloads/trace_text.hpp"

#include <charconv>
#include <nlohmann/json.hpp>
#include <vector>

#include "workloads/trace_check.hpp"

namespace alloclab::trace {
namespace {

constexpr std::string_view kFirstLine = "alloclab-trace 1";

void append_op(std::string& out, const Op& op) {
  out += kind_name(op.kind);
  out += ' ';
  switch (op.kind) {
    case OpKind::alloc:
      out += std::to_string(op.a) + ' ' + std::to_string(op.b);
      if (op.align_log2) out += " align=" + std::to_string(op.alignment());
      if (op.c) out += " scope=" + std::to_string(op.c - 1);
      break;
    case OpKind::realloc:
      out += std::to_string(op.a) + ' ' + std::to_string(op.b);
      break;
    case OpKind::open:
      out += std::to_string(op.a) + ' ';
      out += op.aux <= 2 ? scope_kind_name(static_cast<ScopeKind>(op.aux)) : "?";
      if (op.c) out += " parent=" + std::to_string(op.c - 1);
      break;
    case OpKind::think:
      out += std::to_string(op.b);
      break;
    default:
      out += std::to_string(op.a);
  }
  out += '\n';
}

class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}

  // Next line that is not blank or a comment; false at the end.
  bool next() {
    while (pos_ < text_.size()) {
      auto nl = text_.find('\n', pos_);
      if (nl == std::string_view::npos) nl = text_.size();
      line_ = text_.substr(pos_, nl - pos_);
      pos_ = nl + 1;
      ++number_;
      if (!line_.empty() && line_.back() == '\r') line_.remove_suffix(1);
      if (line_.empty() || line_.front() == '#') continue;
      split();
      return true;
    }
    return false;
  }
  std::size_t number() const { return number_; }
  const std::vector<std::string_view>& words() const { return words_; }
  [[noreturn]] void fail(const std::string& problem) const {
    throw TraceError("line " + std::to_string(number_), problem);
  }
  std::string_view line() const { return line_; }

  std::uint64_t number_at(std::size_t i, std::uint64_t max, std::string_view what) const {
    if (i >= words_.size()) fail("missing " + std::string(what));
    return parse(words_[i], max, what);
  }
  std::uint64_t parse(std::string_view w, std::uint64_t max, std::string_view what) const {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec != std::errc() || p != w.data() + w.size() || w.empty())
      fail(std::string(what) + " '" + std::string(w) + "' is not a number");
    if (v > max) fail(std::string(what) + " " + std::string(w) + " is above the limit " + std::to_string(max));
    return v;
  }

 private:
  void split() {
    words_.clear();
    std::size_t i = 0;
    while (i < line_.size()) {
      while (i < line_.size() && line_[i] == ' ') ++i;
      std::size_t j = i;
      while (j < line_.size() && line_[j] != ' ') ++j;
      if (j > i) words_.push_back(line_.substr(i, j - i));
      i = j;
    }
  }
  std::string_view text_;
  std::string_view line_;
  std::vector<std::string_view> words_;
  std::size_t pos_ = 0;
  std::size_t number_ = 0;
};

OpKind kind_from(std::string_view w) {
  for (auto k : {OpKind::alloc, OpKind::free, OpKind::release, OpKind::realloc, OpKind::open, OpKind::close,
                 OpKind::signal, OpKind::wait, OpKind::think})
    if (kind_name(k) == w) return k;
  return OpKind{};
}

Op parse_op(const LineReader& r) {
  const auto& w = r.words();
  Op op{};
  op.kind = kind_from(w[0]);
  if (op.kind == OpKind{}) r.fail("unknown op '" + std::string(w[0]) + "'");
  constexpr std::uint64_t u32 = UINT32_MAX;
  std::size_t fixed = 2;
  switch (op.kind) {
    case OpKind::alloc:
    case OpKind::realloc:
      op.a = static_cast<std::uint32_t>(r.number_at(1, u32, "slot"));
      op.b = static_cast<std::uint32_t>(r.number_at(2, u32, "size"));
      fixed = 3;
      break;
    case OpKind::open: {
      op.a = static_cast<std::uint32_t>(r.number_at(1, u32 - 1, "scope"));
      if (w.size() < 3) r.fail("missing scope kind");
      bool found = false;
      for (std::uint16_t k = 0; k <= 2; ++k)
        if (scope_kind_name(static_cast<ScopeKind>(k)) == w[2]) op.aux = k, found = true;
      if (!found) r.fail("unknown scope kind '" + std::string(w[2]) + "'");
      fixed = 3;
      break;
    }
    case OpKind::think:
      op.b = static_cast<std::uint32_t>(r.number_at(1, u32, "think time"));
      break;
    default:
      op.a = static_cast<std::uint32_t>(r.number_at(1, u32, "id"));
  }
  for (std::size_t i = fixed; i < w.size(); ++i) {
    auto eq = w[i].find('=');
    std::string_view key = w[i].substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? std::string_view{} : w[i].substr(eq + 1);
    if (op.kind == OpKind::alloc && key == "align" && !op.align_log2) {
      auto a = r.parse(val, std::uint64_t{1} << kMaxAlignLog2, "alignment");
      if (a < 2 || (a & (a - 1))) r.fail("alignment " + std::string(val) + " is not a power of two from 2 to 65536");
      op.align_log2 = align_log2_of(a);
    } else if (op.kind == OpKind::alloc && key == "scope" && !op.c) {
      op.c = static_cast<std::uint32_t>(r.parse(val, u32 - 1, "scope")) + 1;
    } else if (op.kind == OpKind::open && key == "parent" && !op.c) {
      op.c = static_cast<std::uint32_t>(r.parse(val, u32 - 1, "parent")) + 1;
    } else {
      r.fail("unexpected '" + std::string(w[i]) + "' after " + std::string(w[0]));
    }
  }
  return op;
}

}  // namespace

std::string to_text(const Trace& t) {
  std::string out;
  out.reserve(64 + t.metadata.size() + t.op_count() * 14);
  out += kFirstLine;
  out += '\n';
  out += "threads " + std::to_string(t.threads.size()) + " slots " + std::to_string(t.slot_count) + " scopes " +
         std::to_string(t.scope_count) + " edges " + std::to_string(t.edge_count) + '\n';
  out += "meta " + t.metadata + '\n';
  for (std::size_t i = 0; i < t.threads.size(); ++i) {
    out += "thread " + std::to_string(i) + " ops " + std::to_string(t.threads[i].size()) + '\n';
    for (const Op& op : t.threads[i]) append_op(out, op);
  }
  return out;
}

bool looks_like_text(std::string_view head) { return head.starts_with("alloclab-trace"); }

Trace from_text(std::string_view text) {
  LineReader r(text);
  if (!r.next() || r.line() != kFirstLine) {
    if (r.number() == 0) throw TraceError("line 1", "empty file; expected '" + std::string(kFirstLine) + "'");
    r.fail("expected '" + std::string(kFirstLine) + "'");
  }
  Trace t;
  if (!r.next() || r.words().size() != 8 || r.words()[0] != "threads" || r.words()[2] != "slots" ||
      r.words()[4] != "scopes" || r.words()[6] != "edges")
    r.fail("expected 'threads T slots S scopes C edges E'");
  auto threads = r.number_at(1, kMaxThreads, "thread count");
  if (threads == 0) r.fail("thread count 0");
  t.slot_count = static_cast<std::uint32_t>(r.number_at(3, UINT32_MAX, "slot count"));
  t.scope_count = static_cast<std::uint32_t>(r.number_at(5, UINT32_MAX, "scope count"));
  t.edge_count = static_cast<std::uint32_t>(r.number_at(7, UINT32_MAX, "edge count"));
  if (!r.next() || !r.line().starts_with("meta ")) r.fail("expected 'meta {JSON}'");
  t.metadata = std::string(r.line().substr(5));
  if (t.metadata.size() > kMaxMetadataBytes) r.fail("metadata above the limit of 1 MiB");
  for (unsigned char c : t.metadata)
    if (c < 0x20) r.fail("metadata holds a control character");
  if (t.metadata.empty() || t.metadata.front() != '{' || !nlohmann::json::accept(t.metadata))
    r.fail("metadata is not a JSON object");
  t.threads.resize(threads);
  std::vector<std::vector<std::size_t>> lines(threads);
  std::uint64_t declared = 0;
  std::size_t current = 0;
  std::size_t header_line = 0;
  bool in_thread = false;
  auto finish_thread = [&] {
    if (in_thread && t.threads[current].size() != declared)
      throw TraceError("line " + std::to_string(header_line),
                       "thread " + std::to_string(current) + " declares " + std::to_string(declared) + " ops, has " +
                           std::to_string(t.threads[current].size()));
  };
  while (r.next()) {
    if (r.words()[0] == "thread") {
      finish_thread();
      auto th = r.number_at(1, threads - 1, "thread");
      if (th != (in_thread ? current + 1 : 0)) r.fail("threads must appear in order; expected thread " + std::to_string(in_thread ? current + 1 : 0));
      if (r.words().size() != 4 || r.words()[2] != "ops") r.fail("expected 'thread N ops COUNT'");
      declared = r.number_at(3, UINT64_MAX, "op count");
      current = th;
      header_line = r.number();
      in_thread = true;
      continue;
    }
    if (!in_thread) r.fail("op before any 'thread N ops COUNT' line");
    t.threads[current].push_back(parse_op(r));
    lines[current].push_back(r.number());
  }
  finish_thread();
  if (!in_thread || current + 1 != threads)
    throw TraceError("line " + std::to_string(r.number()),
                     "file ends after thread " + std::to_string(in_thread ? current : 0) + " of " + std::to_string(threads));
  std::uint64_t n = t.op_count();
  if (t.slot_count > n || t.scope_count > n || t.edge_count > n / 2)
    throw TraceError("line 2", "slot, scope or edge count exceeds what " + std::to_string(n) + " ops can use");
  try {
    check(t);
  } catch (OpFault& f) {
    std::size_t line = f.index < lines[f.thread].size() ? lines[f.thread][f.index] : r.number();
    throw TraceError("line " + std::to_string(line), f.problem);
  }
  return t;
}

}  // namespace alloclab::trace
