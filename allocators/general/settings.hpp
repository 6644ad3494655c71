// A general allocator's documented configuration, as part of a backend
// spec: jemalloc[dirty_decay_ms=0,thp=always], glibc[arena_max=2].
//
// Each library reads its configuration from the environment when it starts
// (jemalloc MALLOC_CONF, mimalloc MIMALLOC_<KEY>, glibc GLIBC_TUNABLES,
// gperftools TCMALLOC_<KEY>), so a setting is an environment variable of
// the one worker that runs the spec. The table below holds, per library,
// the keys alloclab accepts, their type and range, and how a worker reads
// the value back from the library it loaded. A worker refuses to measure
// when a value read back differs from the one asked for; a value the
// library cannot report is recorded as such, never assumed.
//
// The keys are those of the library versions alloclab builds against
// (Debian 12: jemalloc 5.3, mimalloc 2.0.9, glibc 2.36, gperftools 2.10).
// A library of another version may lack a key: the read-back names it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "allocators/general/library.hpp"

namespace alloclab {

enum class SettingType {
  boolean,  // true|false (1|0 accepted); canonical true|false
  integer,  // a decimal integer, possibly negative
  size,     // bytes, with an optional k/m/g suffix (powers of 1024); canonical in bytes
  choice,   // one word of `choices`
  real,     // a decimal number such as 0.5
};

// How a worker reads a setting back from the library answering malloc.
enum class ReadBack {
  mallctl_bool,      // jemalloc mallctl("opt.KEY") as bool
  mallctl_ssize,     // ... as ssize_t
  mallctl_unsigned,  // ... as unsigned
  mallctl_size,      // ... as size_t
  mallctl_string,    // ... as const char*
  mi_option,         // mimalloc mi_option_get(option)
  tunable,           // glibc: the dynamic loader's --list-tunables
  tc_property,       // gperftools MallocExtension_GetNumericProperty(property)
  none,              // the library has no way to report it
};

struct SettingDef {
  std::string_view key;
  SettingType type;
  std::int64_t min = 0, max = 0;  // integer, size (as unsigned), real (whole bounds)
  std::string_view choices;       // choice: "a|b|c"
  ReadBack read = ReadBack::none;
  // mi_option: the option's number; tc_property: the property's name.
  int option = 0;
  std::string_view property;
  std::string_view help;
};

// The keys `lib` accepts, in the order `alloclab list` shows them.
std::span<const SettingDef> setting_defs(Library lib);
const SettingDef* find_setting(Library lib, std::string_view key);

// The variable a setting travels in, for messages and --help:
// "MALLOC_CONF", "MIMALLOC_<KEY>", "GLIBC_TUNABLES", "TCMALLOC_<KEY>".
std::string_view settings_variable(Library lib);

// One key=value, its value in canonical form.
struct Setting {
  std::string key;
  std::string value;
  bool operator==(const Setting&) const = default;
};

// Settings in canonical order: sorted by key, each key once.
class AllocatorSettings {
 public:
  AllocatorSettings() = default;

  // Parses the text between the brackets of LIB[...]: "k=v,k=v". Throws
  // std::invalid_argument with one line naming the problem and, for an
  // unknown key, the keys `lib` accepts.
  static AllocatorSettings parse(Library lib, std::string_view text);

  bool empty() const noexcept { return items_.empty(); }
  const std::vector<Setting>& items() const noexcept { return items_; }
  // "[k=v,k=v]" in canonical order, or "" when empty.
  std::string to_string() const;
  // NAME=value entries that configure `lib` for these settings (empty when
  // there are none).
  std::vector<std::string> environment(Library lib) const;
  bool operator==(const AllocatorSettings&) const = default;

 private:
  std::vector<Setting> items_;
};

// What a worker found for one setting.
struct SettingCheck {
  std::string key;
  std::string requested;
  std::optional<std::string> verified;  // the value read back, canonical; nullopt: not readable
  std::string how;                      // the call that read it, or why it could not
};

struct SettingsVerdict {
  std::vector<SettingCheck> checks;
  // Why the settings did not take effect (one line), or empty when every
  // readable value matched.
  std::string mismatch;
};

// Reads every setting back from the allocator answering malloc in this
// process (identified as `identity`, which must be `lib`).
SettingsVerdict verify_settings(Library lib, const AllocatorSettings& settings, const MallocIdentity& identity);

// Compares what was read back with what was requested; sets `mismatch`.
// Separate from verify_settings so that the comparison can be tested
// without a library configured wrongly.
void judge_settings(SettingsVerdict& verdict);

// Whether NAME=value (or NAME) configures one of the general allocators:
// MALLOC_CONF, MIMALLOC_*, GLIBC_TUNABLES, TCMALLOC_*, and glibc's older
// MALLOC_*_ variables. A worker never inherits these: its allocator's
// configuration is exactly its spec's settings.
bool is_allocator_variable(std::string_view entry);

// One line listing the keys of `lib` with their types, for messages.
std::string setting_keys(Library lib);
// One key's type and range in words: "integer -1..18446744072000".
std::string describe_setting(const SettingDef& def);

}  // namespace alloclab
