// Allocator settings in backend specs: LIB[key=value,...] parsed exactly,
// written back in one canonical form, turned into the variables each
// library reads, and judged against what the library reports.
#include "allocators/general/settings.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "allocators/spec.hpp"

namespace alloclab {
namespace {

std::string spec_error(std::string_view text) {
  try {
    parse_backend_spec(text);
  } catch (const SpecError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no SpecError for " << text;
  return "";
}

TEST(Settings, AGeneralAllocatorWithSettings) {
  auto s = parse_backend_spec("jemalloc[thp=always,dirty_decay_ms=0]");
  EXPECT_TRUE(s.is_general());
  EXPECT_EQ(s.library, Library::jemalloc);
  // Canonical form: keys sorted.
  EXPECT_EQ(s.canonical(), "jemalloc[dirty_decay_ms=0,thp=always]");
  EXPECT_EQ(s.display(), "jemalloc[dirty_decay_ms=0,thp=always]");
  EXPECT_EQ(s.preload(), parse_backend_spec("jemalloc").preload());
  EXPECT_EQ(s.environment(), std::vector<std::string>{"MALLOC_CONF=dirty_decay_ms:0,thp:always"});
}

TEST(Settings, CanonicalFormRoundTripsAndNormalisesValues) {
  for (const char* text : {"jemalloc[background_thread=1,tcache_max=16k]", "glibc[mmap_threshold=1m,arena_max=2]",
                           "mimalloc[large_os_pages=true,decommit_delay=0]", "tcmalloc[release_rate=0.50]",
                           "bump:first_chunk=16k@jemalloc[thp=never]", "tcmalloc[aggressive_decommit=0]"}) {
    SCOPED_TRACE(text);
    auto s = parse_backend_spec(text);
    auto again = parse_backend_spec(s.canonical());
    EXPECT_EQ(again.canonical(), s.canonical());
    EXPECT_EQ(again.settings, s.settings);
  }
  EXPECT_EQ(parse_backend_spec("jemalloc[background_thread=1,tcache_max=16k]").canonical(),
            "jemalloc[background_thread=true,tcache_max=16384]");
  EXPECT_EQ(parse_backend_spec("glibc[mmap_threshold=1m,arena_max=2]").canonical(),
            "glibc[arena_max=2,mmap_threshold=1048576]");
  EXPECT_EQ(parse_backend_spec("tcmalloc[release_rate=0.50]").canonical(), "tcmalloc[release_rate=0.5]");
  // Two spellings of one configuration are one backend.
  EXPECT_EQ(parse_backend_spec("jemalloc[thp=always,retain=false]").canonical(),
            parse_backend_spec("jemalloc[retain=0,thp=always]").canonical());
}

TEST(Settings, AStrategyOverASetBase) {
  auto s = parse_backend_spec("bump@jemalloc[thp=always]");
  EXPECT_EQ(s.strategy, "bump");
  EXPECT_EQ(s.library, Library::jemalloc);
  EXPECT_EQ(s.canonical(), "bump@jemalloc[thp=always]");
  EXPECT_EQ(s.display(), "bump@jemalloc[thp=always]");
  EXPECT_EQ(s.environment(), std::vector<std::string>{"MALLOC_CONF=thp:always"});
  auto o = parse_backend_spec("bump:first_chunk=16k,retain=4@glibc[arena_max=1]");
  EXPECT_EQ(o.canonical(), "bump:first_chunk=16k,retain=4@glibc[arena_max=1]");
}

TEST(Settings, EachLibraryGetsItsOwnVariables) {
  EXPECT_EQ(parse_backend_spec("glibc[arena_max=2,trim_threshold=0]").environment(),
            std::vector<std::string>{"GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=0"});
  EXPECT_EQ(parse_backend_spec("mimalloc[large_os_pages=true,decommit_delay=0]").environment(),
            (std::vector<std::string>{"MIMALLOC_DECOMMIT_DELAY=0", "MIMALLOC_LARGE_OS_PAGES=1"}));
  EXPECT_EQ(parse_backend_spec("tcmalloc[aggressive_decommit=true,max_total_thread_cache_bytes=1m]").environment(),
            (std::vector<std::string>{"TCMALLOC_AGGRESSIVE_DECOMMIT=1",
                                      "TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES=1048576"}));
  EXPECT_TRUE(parse_backend_spec("jemalloc").environment().empty());
  EXPECT_TRUE(parse_backend_spec("bump@glibc").environment().empty());
}

TEST(Settings, AnUnknownKeyNamesTheValidOnes) {
  std::string m = spec_error("jemalloc[dirty_decay=0]");
  EXPECT_NE(m.find("unknown jemalloc setting 'dirty_decay'"), std::string::npos) << m;
  for (const auto& d : setting_defs(Library::jemalloc)) EXPECT_NE(m.find(d.key), std::string::npos) << d.key;
  // mimalloc 2.1's names point at 2.0's.
  m = spec_error("mimalloc[purge_delay=0]");
  EXPECT_NE(m.find("calls it decommit_delay"), std::string::npos) << m;
  m = spec_error("glibc[arena=1]");
  EXPECT_NE(m.find("arena_max"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos);
}

TEST(Settings, BadValuesAndRangesAreOneLine) {
  struct Case {
    const char* text;
    const char* needle;
  };
  const Case cases[] = {
      {"jemalloc[dirty_decay_ms=-2]", "out of range"},
      {"jemalloc[dirty_decay_ms=soon]", "not an integer"},
      {"jemalloc[narenas=0]", "out of range"},
      {"jemalloc[thp=sometimes]", "default|always|never"},
      {"jemalloc[background_thread=yes]", "not a boolean"},
      {"jemalloc[tcache_max=9m]", "out of range"},
      {"glibc[mmap_threshold=64m]", "out of range"},
      {"glibc[tcache_count=65536]", "out of range"},
      {"glibc[arena_max=99999999999999999999999]", "not an integer"},
      {"glibc[perturb=-1]", "out of range"},
      {"tcmalloc[max_total_thread_cache_bytes=1k]", "out of range"},
      {"tcmalloc[release_rate=1e3]", "not a decimal number"},
      {"tcmalloc[release_rate=nan]", "not a decimal number"},
      {"mimalloc[decommit_delay=-5]", "out of range"},
      {"jemalloc[]", "holds no settings"},
      {"jemalloc[thp]", "not KEY=VALUE"},
      {"jemalloc[thp=always,thp=never]", "given twice"},
      {"jemalloc[thp=always,]", "not KEY=VALUE"},
      {"jemalloc[thp=always", "one pair of brackets"},
      {"jemalloc[thp=always]x", "one pair of brackets"},
      {"jemalloc[thp=a[b]]", "one pair of brackets"},
      {"jemallocthp=always]", "']' without '['"},
      {"jemalloc[thp=always;rm -rf /]", "not one of the choices"},
      {"bump[first_chunk=1]", "bump:key=value"},
      {"preload:/x.so[thp=always]", ""},
      {"jemalloc[thp=always]@glibc", "takes no @BASE"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    std::string m;
    if (std::string_view(c.text).starts_with("preload:")) {
      // A preload path is taken whole: settings do not apply, the path is odd but legal.
      EXPECT_EQ(parse_backend_spec(c.text).preload_path, "/x.so[thp=always]");
      continue;
    }
    m = spec_error(c.text);
    EXPECT_NE(m.find(c.needle), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  // A named preload library has no settings table.
  ExternalAllocator ext[] = {{"snmalloc", "/opt/libsnmallocshim.so"}};
  try {
    parse_backend_spec("snmalloc[x=1]", ext);
    ADD_FAILURE();
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("is a preload library"), std::string::npos) << e.what();
  }
}

TEST(Settings, EveryKeyIsTabledWithARangeThatParses) {
  for (Library lib : kLibraries) {
    ASSERT_FALSE(setting_defs(lib).empty()) << library_name(lib);
    for (const auto& d : setting_defs(lib)) {
      SCOPED_TRACE(d.key);
      EXPECT_FALSE(d.help.empty());
      EXPECT_TRUE(std::all_of(d.key.begin(), d.key.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; }));
      // The bounds of a numeric key are themselves accepted.
      if (d.type == SettingType::integer || d.type == SettingType::size) {
        std::string text = std::string(library_name(lib)) + "[" + std::string(d.key) + "=" + std::to_string(d.max) + "]";
        EXPECT_NO_THROW(parse_backend_spec(text)) << text;
        text = std::string(library_name(lib)) + "[" + std::string(d.key) + "=" + std::to_string(d.min) + "]";
        EXPECT_NO_THROW(parse_backend_spec(text)) << text;
      }
    }
  }
}

TEST(Settings, AValueReadBackThatDiffersIsAMismatch) {
  SettingsVerdict v;
  v.checks = {{"dirty_decay_ms", "0", "0", "mallctl opt.dirty_decay_ms"},
              {"thp", "always", "not supported", "mallctl opt.thp"}};
  judge_settings(v);
  EXPECT_EQ(v.mismatch, "thp=always did not take effect: mallctl opt.thp reads not supported");
  // A value the library cannot report is recorded, not a refusal; a value
  // it should report but did not is.
  v.checks = {{"release_rate", "0", std::nullopt, "not verifiable: tcmalloc has no call that reports it"}};
  judge_settings(v);
  EXPECT_TRUE(v.mismatch.empty()) << v.mismatch;
  v.checks = {{"tcache_max", "4096", std::nullopt, "mallctl opt.tcache_max: this jemalloc has no such option"}};
  judge_settings(v);
  EXPECT_NE(v.mismatch.find("could not be read back"), std::string::npos) << v.mismatch;
}

// This test process runs under glibc without GLIBC_TUNABLES: a setting it
// was never given reads back as glibc's default, and is refused.
TEST(Settings, GlibcTunablesAreReadBackFromTheLoader) {
  MallocIdentity id = identify_process_malloc();
  if (id.family != "glibc") GTEST_SKIP() << "malloc here is " << id.family;
  if (std::getenv("GLIBC_TUNABLES")) GTEST_SKIP() << "GLIBC_TUNABLES is set for this test";
  auto s = parse_backend_spec("glibc[arena_max=3]");
  SettingsVerdict v = verify_settings(Library::glibc, s.settings, id);
  ASSERT_EQ(v.checks.size(), 1u);
  EXPECT_NE(v.checks[0].how.find("--list-tunables"), std::string::npos) << v.checks[0].how;
  ASSERT_TRUE(v.checks[0].verified.has_value()) << v.checks[0].how;
  EXPECT_EQ(*v.checks[0].verified, "0");
  EXPECT_EQ(v.mismatch.rfind("arena_max=3 did not take effect", 0), 0u) << v.mismatch;
}

TEST(Settings, OnlyAllocatorVariablesAreWithheldFromWorkers) {
  for (const char* e : {"MALLOC_CONF=narenas:1", "MIMALLOC_LARGE_OS_PAGES=1", "GLIBC_TUNABLES=glibc.malloc.arena_max=1",
                        "TCMALLOC_RELEASE_RATE=0", "MALLOC_ARENA_MAX=2", "MALLOC_PERTURB_=3"})
    EXPECT_TRUE(is_allocator_variable(e)) << e;
  for (const char* e : {"PATH=/bin", "MALLOC=1", "LD_PRELOAD=/x.so", "MALLOC_CONFX=1", "HOME=/root"})
    EXPECT_FALSE(is_allocator_variable(e)) << e;
}

}  // namespace
}  // namespace alloclab
