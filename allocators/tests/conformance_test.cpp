// Every registered backend x every conformance check, generated from the
// registry: registering a backend is all it takes to be tested here.
//
// A general allocator other than the one answering malloc in this process
// is tested by re-running this test in a child process with the library
// preloaded; the child first checks that the preload took.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "allocators/general/library.hpp"
#include "allocators/registry.hpp"
#include "allocators/tests/conformance.hpp"

namespace alloclab {
namespace {

std::vector<std::string> all_names() {
  std::vector<std::string> names;
  for_each_registration([&](const auto& reg) { names.emplace_back(reg.name); });
  return names;
}

std::string self_path() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

class Conformance : public testing::TestWithParam<std::string> {};

TEST_P(Conformance, KeepsTheContract) {
  const std::string& name = GetParam();
  bool found = with_registration(name, [&](const auto& reg) {
    if (reg.is_general()) {
#ifdef ALLOCLAB_SANITIZED
      GTEST_SKIP() << "sanitizer build: malloc is the sanitizer's; general allocators are tested in the normal build";
#else
      MallocIdentity id = identify_process_malloc();
      if (id.family != name) {
        ASSERT_EQ(std::getenv("ALLOCLAB_CONFORMANCE_CHILD"), nullptr)
            << "preloading " << name << " did not take: malloc is " << id.family << " (" << id.malloc_object
            << ")";
        std::string preload(library_preload_path(*reg.library));
        const auto* info = testing::UnitTest::GetInstance()->current_test_info();
        std::string cmd = "ALLOCLAB_CONFORMANCE_CHILD=1 LD_PRELOAD='" + preload + "' '" + self_path() +
                          "' --gtest_filter='" + info->test_suite_name() + "." + info->name() + "'";
        int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
        if (rc != 0) std::system(cmd.c_str());  // again, with its output shown
        EXPECT_EQ(rc, 0) << "conformance failed under " << name << " (output above)";
        return;
      }
      ASSERT_FALSE(identity_mismatch(id, reg.library, "")) << *identity_mismatch(id, reg.library, "");
      // A general allocator serves every small size at every alignment up
      // to a page (posix_memalign needs at least pointer alignment: asking
      // it for less must not turn into a refusal).
      {
        auto b = reg.make(BackendOptions{});
        for (std::size_t align = 1; align <= 4096; align *= 2) {
          for (std::size_t size : {std::size_t{1}, std::size_t{3}, std::size_t{24}, align}) {
            void* p = b->allocate(size, align);
            EXPECT_NE(p, nullptr) << "size " << size << " align " << align;
            b->deallocate(p, size, align);
          }
        }
      }
      auto defects = known_defects(id);
      conformance::run_conformance([&] { return reg.make(BackendOptions{}); },
                                   [defects](std::size_t size, std::size_t align) {
                                     for (auto* d : defects) {
                                       if (d->misaligns(size, align)) return true;
                                     }
                                     return false;
                                   });
      return;
#endif
    }
    conformance::run_conformance([&] { return reg.make(BackendOptions{}); });
  });
  ASSERT_TRUE(found);
}

// A known defect is asserted, not ignored: when the library in use is
// fixed, this fails and the entry in general/library.cpp goes.
TEST(KnownDefects, StillPresentInTheLibraryInUse) {
#ifdef ALLOCLAB_SANITIZED
  GTEST_SKIP() << "sanitizer build";
#else
  MallocIdentity id = identify_process_malloc();
  for (const KnownDefect* d : known_defects(id)) {
    int misaligned = 0, tried = 0;
    std::vector<void*> blocks;
    for (std::size_t align = 256; align <= 4096; align *= 2) {
      for (std::size_t size : {align, 2 * align}) {
        if (!d->misaligns(size, align)) continue;
        for (int i = 0; i < 64; ++i, ++tried) {
          void* p = nullptr;
          ASSERT_EQ(::posix_memalign(&p, align, size), 0);
          misaligned += reinterpret_cast<std::uintptr_t>(p) % align != 0;
          blocks.push_back(p);
        }
      }
    }
    for (void* p : blocks) std::free(p);
    EXPECT_GT(misaligned, 0) << d->family << " " << d->version << " no longer shows '" << d->summary
                             << "' (" << d->source << "): remove the KnownDefect entry";
    std::printf("%s %s: %d of %d aligned blocks misaligned (%s)\n", d->family.data(), d->version.data(),
                misaligned, tried, d->source.data());
  }
#endif
}

TEST(KnownDefects, MimallocChecked) {
  // Run the defect check under mimalloc too, in a child process.
#ifdef ALLOCLAB_SANITIZED
  GTEST_SKIP() << "sanitizer build";
#else
  if (identify_process_malloc().family == "mimalloc") return;
  std::string cmd = "LD_PRELOAD='" + std::string(library_preload_path(Library::mimalloc)) + "' '" + self_path() +
                    "' --gtest_filter=KnownDefects.StillPresentInTheLibraryInUse";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
#endif
}

INSTANTIATE_TEST_SUITE_P(Registry, Conformance, testing::ValuesIn(all_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace alloclab
