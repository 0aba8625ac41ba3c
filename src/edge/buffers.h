// Buffers a connection keeps for its whole life: emptied, one larger than a
// TLS record gives its memory back, so an idle connection holds no burst's
// peak.
#pragma once

#include <cstddef>
#include <string>

namespace skiff::edge {

// An emptied buffer larger than this gives its memory back.
constexpr size_t kKeepBufferBytes = 16 << 10;

// Clears `buffer`, freeing its memory when it held more than kKeepBufferBytes.
inline void EmptyBuffer(std::string* buffer) {
  if (buffer->capacity() > kKeepBufferBytes) {
    std::string().swap(*buffer);
  } else {
    buffer->clear();
  }
}

}  // namespace skiff::edge
