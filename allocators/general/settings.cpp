// The settings table, parsing and the variables each library reads; the
// read-back is in settings_check.cpp.
#include "allocators/general/settings.hpp"

#include <mimalloc.h>  // the option numbers of the mimalloc alloclab builds against

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace alloclab {

namespace {

using ST = SettingType;
using RB = ReadBack;

constexpr std::int64_t kInt32Max = 2147483647;
constexpr std::int64_t kBig = std::int64_t{1} << 62;

// jemalloc 5.3 (opt.* in its manual). The decay bounds are jemalloc's own
// (-1 never purges; at most NSTIME_SEC_MAX seconds in ms); narenas stops at
// MALLOCX_ARENA_LIMIT - 1, tcache_max at TCACHE_MAXCLASS_LIMIT (8 MiB).
constexpr SettingDef kJemalloc[] = {
    {"background_thread", ST::boolean, 0, 1, "", RB::mallctl_bool, 0, "",
     "purge from background threads instead of on the allocating thread"},
    {"dirty_decay_ms", ST::integer, -1, 18446744072000, "", RB::mallctl_ssize, 0, "",
     "ms before unused dirty pages are purged (0 at once, -1 never)"},
    {"muzzy_decay_ms", ST::integer, -1, 18446744072000, "", RB::mallctl_ssize, 0, "",
     "ms before unused muzzy pages are purged (0 at once, -1 never)"},
    {"narenas", ST::integer, 1, 4095, "", RB::mallctl_unsigned, 0, "", "number of automatic arenas"},
    {"tcache", ST::boolean, 0, 1, "", RB::mallctl_bool, 0, "", "thread caches on or off"},
    {"tcache_max", ST::size, 0, 8 << 20, "", RB::mallctl_size, 0, "", "largest size class held in thread caches"},
    {"thp", ST::choice, 0, 0, "default|always|never", RB::mallctl_string, 0, "",
     "transparent huge pages for the heap (madvise MADV_HUGEPAGE/NOHUGEPAGE)"},
    {"metadata_thp", ST::choice, 0, 0, "disabled|auto|always", RB::mallctl_string, 0, "",
     "transparent huge pages for jemalloc's own metadata"},
    {"oversize_threshold", ST::size, 0, kBig, "", RB::mallctl_size, 0, "",
     "requests from this size up go to a dedicated arena"},
    {"percpu_arena", ST::choice, 0, 0, "disabled|percpu|phycpu", RB::mallctl_string, 0, "",
     "one arena per CPU instead of threads assigned round-robin"},
    {"retain", ST::boolean, 0, 1, "", RB::mallctl_bool, 0, "",
     "keep unused virtual memory mapped (purged) instead of unmapping it"},
};

// mimalloc 2.0.x (mi_option_t in mimalloc.h; 2.1 renamed several of these).
constexpr SettingDef kMimalloc[] = {
    {"allow_decommit", ST::boolean, 0, 1, "", RB::mi_option, mi_option_allow_decommit, "",
     "return unused memory to the OS at all"},
    {"decommit_delay", ST::integer, 0, kInt32Max, "", RB::mi_option, mi_option_decommit_delay, "",
     "ms before freed pages are decommitted (2.1+: purge_delay)"},
    {"segment_decommit_delay", ST::integer, 0, kInt32Max, "", RB::mi_option, mi_option_segment_decommit_delay, "",
     "ms before a freed segment is decommitted"},
    {"decommit_extend_delay", ST::integer, 0, kInt32Max, "", RB::mi_option, mi_option_decommit_extend_delay, "",
     "ms added to the decommit delay while memory keeps being freed"},
    {"eager_commit", ST::boolean, 0, 1, "", RB::mi_option, mi_option_eager_commit, "",
     "commit whole segments up front"},
    {"eager_commit_delay", ST::integer, 0, 1024, "", RB::mi_option, mi_option_eager_commit_delay, "",
     "segments per thread committed lazily before eager commit starts"},
    {"large_os_pages", ST::boolean, 0, 1, "", RB::mi_option, mi_option_large_os_pages, "",
     "2 MiB OS pages for segments (madvise MADV_HUGEPAGE; 2.1+: allow_large_os_pages)"},
    {"reserve_huge_os_pages", ST::integer, 0, 1024, "", RB::mi_option, mi_option_reserve_huge_os_pages, "",
     "1 GiB huge pages to reserve at start (needs hugetlbfs pages)"},
    {"page_reset", ST::boolean, 0, 1, "", RB::mi_option, mi_option_page_reset, "",
     "reset (MADV_FREE/DONTNEED) free pages instead of keeping them"},
    {"abandoned_page_decommit", ST::boolean, 0, 1, "", RB::mi_option, mi_option_abandoned_page_decommit, "",
     "decommit the free pages of segments that exited threads abandon"},
    {"use_numa_nodes", ST::integer, 0, 1024, "", RB::mi_option, mi_option_use_numa_nodes, "",
     "NUMA nodes to use (0: all)"},
    {"max_segment_reclaim", ST::integer, 0, kInt32Max, "", RB::mi_option, mi_option_max_segment_reclaim, "",
     "abandoned segments a thread reclaims per allocation slow path"},
};

// glibc 2.36 (glibc.malloc.* in the manual's "Memory Allocation Tunables").
// Bounds: the loader's own minimums (--list-tunables), and where malloc
// ignores a larger value the limit it checks: mmap_threshold at
// HEAP_MAX_SIZE / 2 (32 MiB), tcache_max at 1032 bytes, tcache_count at
// 65535, mxfast at 160 bytes (64-bit).
constexpr SettingDef kGlibc[] = {
    {"arena_max", ST::integer, 1, kBig, "", RB::tunable, 0, "", "most arenas (default: 8 per core)"},
    {"arena_test", ST::integer, 1, kBig, "", RB::tunable, 0, "", "arenas created before arena_max is checked"},
    {"mmap_threshold", ST::size, 0, 32 << 20, "", RB::tunable, 0, "",
     "requests from this size up are mmapped (fixes the threshold: no dynamic adjustment)"},
    {"mmap_max", ST::integer, 0, kInt32Max, "", RB::tunable, 0, "", "most mmapped chunks at once (0: no mmap)"},
    {"trim_threshold", ST::size, 0, kBig, "", RB::tunable, 0, "", "free top-of-heap bytes that trigger a trim"},
    {"top_pad", ST::size, 0, kBig, "", RB::tunable, 0, "", "extra bytes asked for on every heap extension"},
    {"tcache_max", ST::size, 0, 1032, "", RB::tunable, 0, "", "largest request the thread cache holds"},
    {"tcache_count", ST::integer, 0, 65535, "", RB::tunable, 0, "", "chunks per thread-cache bin"},
    {"tcache_unsorted_limit", ST::integer, 0, kBig, "", RB::tunable, 0, "",
     "unsorted chunks moved to the thread cache per search (0: no limit)"},
    {"mxfast", ST::size, 0, 160, "", RB::tunable, 0, "", "largest fastbin request (0: no fastbins)"},
    {"hugetlb", ST::integer, 0, 2, "", RB::tunable, 0, "",
     "huge pages for the heap: 1 transparent (madvise), 2 hugetlbfs pages (needs reserved pages)"},
    {"perturb", ST::integer, 0, 255, "", RB::tunable, 0, "", "fill byte for allocated and freed memory (0: none)"},
};

// gperftools 2.10 (TCMALLOC_* in its docs/tcmalloc.html); what
// MallocExtension reports as a numeric property is read back.
constexpr SettingDef kTcmalloc[] = {
    {"aggressive_decommit", ST::boolean, 0, 1, "", RB::tc_property, 0, "tcmalloc.aggressive_memory_decommit",
     "decommit free spans at once instead of by release rate"},
    {"max_total_thread_cache_bytes", ST::size, 512 << 10, 1 << 30, "", RB::tc_property, 0,
     "tcmalloc.max_total_thread_cache_bytes", "bound on all thread caches together"},
    {"release_rate", ST::real, 0, 100, "", RB::none, 0, "",
     "how fast free pages go back to the OS (0 never, default 1)"},
    {"heap_limit_mb", ST::integer, 0, kInt32Max, "", RB::tc_property, 0, "tcmalloc.heap_limit_mb",
     "heap size limit in MiB (0: none); allocations past it fail"},
};

// mimalloc 2.1 and later renamed options that 2.0 has under older names.
constexpr std::pair<std::string_view, std::string_view> kMimallocRenamed[] = {
    {"purge_delay", "decommit_delay"},
    {"allow_large_os_pages", "large_os_pages"},
};

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool parse_int(std::string_view s, std::int64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Canonical text of a value, or throws std::invalid_argument.
std::string canonical_value(Library lib, const SettingDef& d, std::string_view v) {
  auto bad = [&](const std::string& why) -> std::invalid_argument {
    return std::invalid_argument(std::string(library_name(lib)) + " setting " + std::string(d.key) + "=" +
                                 std::string(v.substr(0, 40)) + ": " + why + " (" + describe_setting(d) + ")");
  };
  switch (d.type) {
    case ST::boolean:
      if (v == "true" || v == "1") return "true";
      if (v == "false" || v == "0") return "false";
      throw bad("not a boolean");
    case ST::integer: {
      std::int64_t n = 0;
      if (!parse_int(v, n)) throw bad("not an integer");
      if (n < d.min || n > d.max) throw bad("out of range");
      return std::to_string(n);
    }
    case ST::size: {
      std::string_view digits = v;
      std::uint64_t mult = 1;
      if (!digits.empty()) {
        char last = static_cast<char>(std::tolower(static_cast<unsigned char>(digits.back())));
        if (last == 'k' || last == 'm' || last == 'g') {
          mult = last == 'k' ? 1u << 10 : last == 'm' ? 1u << 20 : 1u << 30;
          digits.remove_suffix(1);
        }
      }
      std::uint64_t n = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size())
        throw bad("not a size (bytes, with an optional k, m or g)");
      if (n > static_cast<std::uint64_t>(d.max) / mult || n * mult < static_cast<std::uint64_t>(d.min))
        throw bad("out of range");
      return std::to_string(n * mult);
    }
    case ST::choice: {
      std::string_view rest = d.choices;
      while (!rest.empty()) {
        auto bar = rest.find('|');
        if (rest.substr(0, bar) == v) return std::string(v);
        rest = bar == std::string_view::npos ? std::string_view{} : rest.substr(bar + 1);
      }
      throw bad("not one of the choices");
    }
    case ST::real: {
      // Digits with at most one point: no exponent, sign, inf or nan.
      bool digit = false;
      int points = 0;
      for (char c : v) {
        if (c == '.') ++points;
        else if (c >= '0' && c <= '9') digit = true;
        else throw bad("not a decimal number");
      }
      if (!digit || points > 1 || v.size() > 24) throw bad("not a decimal number");
      double x = 0;
      std::from_chars(v.data(), v.data() + v.size(), x);
      if (x < static_cast<double>(d.min) || x > static_cast<double>(d.max)) throw bad("out of range");
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, x);
      return std::string(buf, r.ptr);
    }
  }
  throw bad("unknown type");
}

// The value as the library's variable wants it.
std::string env_value(Library lib, const SettingDef& d, const std::string& v) {
  if (d.type == ST::boolean && lib != Library::jemalloc) return v == "true" ? "1" : "0";
  return v;
}

}  // namespace

std::span<const SettingDef> setting_defs(Library lib) {
  switch (lib) {
    case Library::glibc: return kGlibc;
    case Library::jemalloc: return kJemalloc;
    case Library::mimalloc: return kMimalloc;
    case Library::tcmalloc: return kTcmalloc;
  }
  return {};
}

const SettingDef* find_setting(Library lib, std::string_view key) {
  for (const auto& d : setting_defs(lib))
    if (d.key == key) return &d;
  return nullptr;
}

std::string_view settings_variable(Library lib) {
  switch (lib) {
    case Library::glibc: return "GLIBC_TUNABLES";
    case Library::jemalloc: return "MALLOC_CONF";
    case Library::mimalloc: return "MIMALLOC_<KEY>";
    case Library::tcmalloc: return "TCMALLOC_<KEY>";
  }
  return "";
}

std::string describe_setting(const SettingDef& d) {
  switch (d.type) {
    case ST::boolean: return "true|false";
    case ST::integer: return "integer " + std::to_string(d.min) + ".." + std::to_string(d.max);
    case ST::size: return "bytes " + std::to_string(d.min) + ".." + std::to_string(d.max) + " (k/m/g suffix)";
    case ST::choice: return std::string(d.choices);
    case ST::real: return "decimal " + std::to_string(d.min) + ".." + std::to_string(d.max);
  }
  return "";
}

std::string setting_keys(Library lib) {
  std::string s;
  for (const auto& d : setting_defs(lib)) s += (s.empty() ? "" : ", ") + std::string(d.key);
  return s;
}

AllocatorSettings AllocatorSettings::parse(Library lib, std::string_view text) {
  std::string name(library_name(lib));
  if (text.empty())
    throw std::invalid_argument(name + "[] holds no settings; leave the brackets out, or give KEY=VALUE from: " +
                                setting_keys(lib));
  AllocatorSettings out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    start = comma + 1;
    auto eq = item.find('=');
    if (item.empty() || eq == std::string_view::npos || eq == 0)
      throw std::invalid_argument(name + " setting '" + std::string(item.substr(0, 40)) +
                                  "' is not KEY=VALUE; keys: " + setting_keys(lib));
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    const SettingDef* def = find_setting(lib, key);
    if (!def) {
      std::string hint;
      if (lib == Library::mimalloc)
        for (const auto& [newer, older] : kMimallocRenamed)
          if (key == newer) hint = " (mimalloc 2.1's name; this mimalloc 2.0 calls it " + std::string(older) + ")";
      throw std::invalid_argument("unknown " + name + " setting '" + std::string(key.substr(0, 40)) + "'" + hint +
                                  "; keys: " + setting_keys(lib));
    }
    for (const auto& s : out.items_)
      if (s.key == key) throw std::invalid_argument(name + " setting '" + std::string(key) + "' is given twice");
    out.items_.push_back({std::string(key), canonical_value(lib, *def, value)});
  }
  std::sort(out.items_.begin(), out.items_.end(), [](const Setting& a, const Setting& b) { return a.key < b.key; });
  return out;
}

std::string AllocatorSettings::to_string() const {
  if (items_.empty()) return "";
  std::string s = "[";
  for (const auto& i : items_) s += (s.size() > 1 ? "," : "") + i.key + "=" + i.value;
  return s + "]";
}

std::vector<std::string> AllocatorSettings::environment(Library lib) const {
  std::vector<std::string> env;
  if (items_.empty()) return env;
  switch (lib) {
    case Library::jemalloc: {
      std::string conf;
      for (const auto& i : items_) conf += (conf.empty() ? "" : ",") + i.key + ":" + i.value;
      env.push_back("MALLOC_CONF=" + conf);
      break;
    }
    case Library::glibc: {
      std::string t;
      for (const auto& i : items_) {
        if (!t.empty()) t += ':';
        t.append("glibc.malloc.").append(i.key).append("=").append(i.value);
      }
      env.push_back("GLIBC_TUNABLES=" + t);
      break;
    }
    case Library::mimalloc:
    case Library::tcmalloc: {
      std::string prefix = lib == Library::mimalloc ? "MIMALLOC_" : "TCMALLOC_";
      for (const auto& i : items_)
        env.push_back(prefix + upper(i.key) + "=" + env_value(lib, *find_setting(lib, i.key), i.value));
      break;
    }
  }
  return env;
}

bool is_allocator_variable(std::string_view entry) {
  std::string_view name = entry.substr(0, entry.find('='));
  if (name == "MALLOC_CONF" || name == "GLIBC_TUNABLES") return true;
  if (name.starts_with("MIMALLOC_") || name.starts_with("TCMALLOC_")) return true;
  // glibc's variables from before tunables (still read by 2.36).
  for (std::string_view old : {"MALLOC_ARENA_MAX", "MALLOC_ARENA_TEST", "MALLOC_TOP_PAD_", "MALLOC_PERTURB_",
                               "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_CHECK_"})
    if (name == old) return true;
  return false;
}

}  // namespace alloclab
