#include "workloads/trace.hpp"

#include <bit>
#include <stdexcept>

#include "workloads/trace_check.hpp"

namespace alloclab::trace {

std::string_view kind_name(OpKind k) {
  switch (k) {
    case OpKind::alloc: return "alloc";
    case OpKind::free: return "free";
    case OpKind::release: return "release";
    case OpKind::realloc: return "realloc";
    case OpKind::open: return "open";
    case OpKind::close: return "close";
    case OpKind::signal: return "signal";
    case OpKind::wait: return "wait";
    case OpKind::think: return "think";
  }
  return "op";
}

std::string_view scope_kind_name(ScopeKind k) {
  switch (k) {
    case ScopeKind::connection: return "connection";
    case ScopeKind::request: return "request";
    case ScopeKind::child: return "child";
  }
  return "scope";
}

std::uint8_t align_log2_of(std::size_t align) {
  if (align == 0) return 0;
  if (!std::has_single_bit(align) || align > (std::size_t{1} << kMaxAlignLog2))
    throw std::invalid_argument("alignment " + std::to_string(align) + " is not a power of two up to 65536");
  return static_cast<std::uint8_t>(std::countr_zero(align));
}

void check(const Trace& t) {
  Walker w(t);
  NoObserver none;
  w.run(none);
}

}  // namespace alloclab::trace
