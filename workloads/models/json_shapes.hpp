// What cJSON (1.7.19, cJSON.c) allocates to parse a JSON document, build
// one and print it, for documents drawn member by member. The sizes of
// keys and values are chosen (no published figure fits API payloads);
// the allocation pattern is cJSON's:
//   - parse: a 64-byte cJSON item per value (sizeof(cJSON) on x86-64), a
//     copy of each key and string value (length + 2: parse_string sizes it
//     from the opening quote, plus the terminator), and for each number a
//     temporary copy (digits + 1) freed at once (parse_number);
//   - build: an item per value, cJSON_strdup of each key and string
//     value (length + 1);
//   - print: a 256-byte buffer grown by realloc to twice what is needed
//     whenever it runs out (ensure()), then shrunk to fit.
// A server points cJSON's hooks at a pool, so the tree lives in a child
// scope; the printed text outlives it and is malloc'd.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "workloads/rng.hpp"
#include "workloads/trace_builder.hpp"

namespace alloclab::trace::json {

inline constexpr std::uint32_t kItem = 64;          // sizeof(cJSON)
inline constexpr std::uint32_t kPrintBuffer = 256;  // print(): default_buffer_size
// Member shape, chosen: keys median 8 chars (p95 20), string values
// median 8 (p95 64), numbers 1-10 digits; values are strings 40%,
// numbers 35%, true/false/null 10%, objects 10%, arrays 5%; a container
// ends after each member with probability 0.2; nesting at most 8 deep.
inline constexpr double kKeyMedian = 8, kKeyP95 = 20;
inline constexpr double kStringMedian = 8, kStringP95 = 64;
inline constexpr double kKindWeights[] = {0.40, 0.35, 0.10, 0.10, 0.05};
inline constexpr double kCloseChance = 0.2;
inline constexpr std::uint32_t kMaxDepth = 8;

enum class Kind : std::uint8_t { string, number, literal, object, array };

// One member as the document holds it: its bytes, key and value lengths.
struct Member {
  Kind kind;
  std::uint32_t key;    // 0 inside an array
  std::uint32_t value;  // string or number length
  std::uint32_t bytes;  // as printed, with quotes, colon and comma
};

// Draws the members of a document of about `bytes` bytes.
inline void draw_document(Rng& rng, std::uint64_t bytes, std::vector<Member>& out) {
  out.clear();
  bool in_object[kMaxDepth + 1] = {true};
  std::uint32_t depth = 0;
  std::uint64_t used = 2;  // the root's braces
  while (used < bytes) {
    if (depth > 0 && rng.chance(kCloseChance)) {
      --depth;
      continue;  // its brackets were counted when it opened
    }
    Member m{};
    m.kind = static_cast<Kind>(rng.pick(kKindWeights));
    if ((m.kind == Kind::object || m.kind == Kind::array) && depth == kMaxDepth) m.kind = Kind::literal;
    m.key = in_object[depth] ? rng.lognormal_size(kKeyMedian, kKeyP95, 1, 256) : 0;
    switch (m.kind) {
      case Kind::string:
        m.value = rng.lognormal_size(kStringMedian, kStringP95, 0, 65536);
        m.bytes = m.value + 2;
        break;
      case Kind::number:
        m.value = static_cast<std::uint32_t>(rng.between(1, 10));
        m.bytes = m.value;
        break;
      case Kind::literal:  // true, false, null
        m.bytes = 4 + static_cast<std::uint32_t>(rng.between(0, 1));
        break;
      case Kind::object:
      case Kind::array:
        m.bytes = 2;
        in_object[++depth] = m.kind == Kind::object;
        break;
    }
    m.bytes += (m.key ? m.key + 3 : 0) + 1;
    used += m.bytes;
    out.push_back(m);
  }
}

// cJSON_Parse of the document into `scope`.
inline void parse(TraceBuilder& b, std::uint32_t th, std::uint32_t scope, std::span<const Member> doc) {
  b.alloc(th, kItem, scope);  // the root
  for (const Member& m : doc) {
    b.alloc(th, kItem, scope);
    if (m.key) b.alloc(th, m.key + 2, scope);
    if (m.kind == Kind::string) b.alloc(th, m.value + 2, scope);
    if (m.kind == Kind::number) b.free(th, b.alloc(th, m.value + 1, scope));
  }
}

// cJSON_CreateObject and cJSON_Add*ToObject building the document in
// `scope`.
inline void build(TraceBuilder& b, std::uint32_t th, std::uint32_t scope, std::span<const Member> doc) {
  b.alloc(th, kItem, scope);
  for (const Member& m : doc) {
    b.alloc(th, kItem, scope);
    if (m.key) b.alloc(th, m.key + 1, scope);
    if (m.kind == Kind::string) b.alloc(th, m.value + 1, scope);
  }
}

// cJSON_PrintUnformatted: returns the malloc'd (unscoped) slot of the text.
inline std::uint32_t print(TraceBuilder& b, std::uint32_t th, std::span<const Member> doc) {
  std::uint32_t slot = b.alloc(th, kPrintBuffer);
  std::uint64_t length = kPrintBuffer, offset = 1;  // the root's opening brace
  for (const Member& m : doc) {
    std::uint64_t needed = offset + m.bytes + 1;
    if (needed > length) {
      length = needed * 2;
      b.realloc(th, slot, static_cast<std::uint32_t>(length));
    }
    offset += m.bytes;
  }
  b.realloc(th, slot, static_cast<std::uint32_t>(offset + 2));  // closing brace and terminator
  return slot;
}

}  // namespace alloclab::trace::json
