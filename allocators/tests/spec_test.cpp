// Backend specs and options: what users type, parsed exactly.
#include "allocators/spec.hpp"

#include <gtest/gtest.h>

#include "allocators/registry.hpp"

namespace alloclab {
namespace {

TEST(Spec, GeneralAllocatorAlone) {
  auto s = parse_backend_spec("jemalloc");
  EXPECT_TRUE(s.is_general());
  EXPECT_EQ(s.library, Library::jemalloc);
  EXPECT_EQ(s.preload(), library_preload_path(Library::jemalloc));
  EXPECT_EQ(s.canonical(), "jemalloc");
  EXPECT_EQ(parse_backend_spec("glibc").preload(), "");
}

TEST(Spec, StrategyDefaultsToGlibcBase) {
  auto s = parse_backend_spec("bump");
  EXPECT_EQ(s.strategy, "bump");
  EXPECT_EQ(s.library, Library::glibc);
  EXPECT_EQ(s.display(), "bump@glibc");
  EXPECT_EQ(s.canonical(), "bump@glibc");
}

TEST(Spec, StrategyWithOptionsOverABase) {
  auto s = parse_backend_spec("bump:first_chunk=16k,retain=4@mimalloc");
  EXPECT_EQ(s.strategy, "bump");
  EXPECT_EQ(s.library, Library::mimalloc);
  EXPECT_EQ(s.options.size("first_chunk", 0), 16384u);
  EXPECT_EQ(s.options.count("retain", 0), 4u);
  EXPECT_EQ(s.canonical(), "bump:first_chunk=16k,retain=4@mimalloc");
  // The canonical form parses back to the same spec.
  EXPECT_EQ(parse_backend_spec(s.canonical()).canonical(), s.canonical());
}

TEST(Spec, PreloadPathAsGeneralAndAsBase) {
  auto g = parse_backend_spec("preload:/opt/lib/libsnmalloc.so");
  EXPECT_TRUE(g.is_general());
  EXPECT_FALSE(g.library.has_value());
  EXPECT_EQ(g.preload(), "/opt/lib/libsnmalloc.so");
  auto b = parse_backend_spec("bump@preload:/opt/lib/libsnmalloc.so");
  EXPECT_EQ(b.strategy, "bump");
  EXPECT_EQ(b.preload(), "/opt/lib/libsnmalloc.so");
  EXPECT_EQ(b.canonical(), "bump@preload:/opt/lib/libsnmalloc.so");
}

TEST(Spec, ExternalNamesResolveToTheirPaths) {
  std::vector<ExternalAllocator> ext = {{"snmalloc", "/opt/libsnmallocshim.so"}};
  auto s = parse_backend_spec("bump@snmalloc", ext);
  EXPECT_EQ(s.preload(), "/opt/libsnmallocshim.so");
  EXPECT_EQ(s.display(), "bump@snmalloc");
  EXPECT_EQ(s.canonical(), "bump@preload:/opt/libsnmallocshim.so");
  EXPECT_EQ(parse_backend_spec("snmalloc", ext).preload(), "/opt/libsnmallocshim.so");
  EXPECT_THROW(parse_backend_spec("snmalloc"), SpecError);
}

TEST(Spec, ErrorsNameTheProblemAndTheChoices) {
  try {
    parse_backend_spec("tcmaloc");
    FAIL();
  } catch (const SpecError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("unknown backend 'tcmaloc'"), std::string::npos) << m;
    for (const char* n : {"glibc", "jemalloc", "mimalloc", "tcmalloc", "bump[@BASE]", "preload:"}) {
      EXPECT_NE(m.find(n), std::string::npos) << n << " missing in: " << m;
    }
  }
  EXPECT_THROW(parse_backend_spec(""), SpecError);
  EXPECT_THROW(parse_backend_spec("bump@"), SpecError);
  EXPECT_THROW(parse_backend_spec("bump@bump"), SpecError);
  EXPECT_THROW(parse_backend_spec("glibc:x=1"), SpecError);
  EXPECT_THROW(parse_backend_spec("tcmalloc@jemalloc"), SpecError);
  EXPECT_THROW(parse_backend_spec("bump:first_chunk"), SpecError);
  EXPECT_THROW(parse_backend_spec("bump:a=1,a=2"), SpecError);
}

TEST(Options, SizesCountsAndFlags) {
  auto o = BackendOptions::parse("a=4096,b=8k,c=2M,d=1g,n=12,f=true,g=off");
  EXPECT_EQ(o.size("a", 0), 4096u);
  EXPECT_EQ(o.size("b", 0), 8192u);
  EXPECT_EQ(o.size("c", 0), 2u << 20);
  EXPECT_EQ(o.size("d", 0), 1u << 30);
  EXPECT_EQ(o.count("n", 0), 12u);
  EXPECT_TRUE(o.flag("f", false));
  EXPECT_FALSE(o.flag("g", true));
  EXPECT_EQ(o.size("absent", 77), 77u);
  EXPECT_TRUE(o.unread().empty());
  EXPECT_EQ(BackendOptions::parse("n=12").count("n", 0), 12u);
  EXPECT_THROW((void)BackendOptions::parse("n=1k").count("n", 0), std::invalid_argument);
  EXPECT_THROW(BackendOptions::parse("s=99999999999999999999").size("s", 0), std::invalid_argument);
  EXPECT_THROW(BackendOptions::parse("s=17179869184g").size("s", 0), std::invalid_argument);  // overflow
  EXPECT_THROW(BackendOptions::parse("f=maybe").flag("f", false), std::invalid_argument);
}

TEST(Options, UnreadKeysAreReportedByTheFactory) {
  auto o = BackendOptions::parse("first_chunk=4k,colour=red");
  bool threw = false;
  with_registration("bump", [&](const auto& reg) {
    try {
      (void)reg.make(o);
    } catch (const std::invalid_argument& e) {
      threw = true;
      std::string m = e.what();
      EXPECT_NE(m.find("unknown option 'colour' for bump"), std::string::npos) << m;
      EXPECT_NE(m.find("first_chunk"), std::string::npos) << m;
    }
  });
  EXPECT_TRUE(threw);
  with_registration("glibc", [&](const auto& reg) {
    EXPECT_THROW((void)reg.make(BackendOptions::parse("x=1")), std::invalid_argument);
  });
}

TEST(Registry, NamesAreUniqueAndDescribed) {
  std::set<std::string_view> names;
  for_each_registration([&](const auto& reg) {
    EXPECT_TRUE(names.insert(reg.name).second) << "duplicate " << reg.name;
    EXPECT_FALSE(reg.description.empty()) << reg.name;
    EXPECT_EQ(reg.name.find_first_of("@:,/ "), std::string_view::npos) << reg.name;
  });
  for (Library lib : kLibraries) EXPECT_TRUE(names.count(library_name(lib)));
}

}  // namespace
}  // namespace alloclab
