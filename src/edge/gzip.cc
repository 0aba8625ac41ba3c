#include "edge/gzip.h"

// next_in as a pointer to const, so no cast drops const.
#define ZLIB_CONST
#include <zlib.h>

#include <algorithm>
#include <new>

#include "common/check.h"
#include "net/http.h"

namespace skiff::edge {
namespace {

using net::EqualsIgnoreCase;

constexpr std::string_view kSpaces = " \t";

std::string_view Trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(kSpaces);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpaces) - begin + 1);
}

// Splits `*rest` at the first `sep`: returns the part before it (trimmed) and
// leaves the part after it in *rest ("" when there is no `sep`).
std::string_view NextPart(std::string_view* rest, char sep) {
  const size_t at = rest->find(sep);
  const std::string_view part = rest->substr(0, at);
  *rest = at == std::string_view::npos ? std::string_view() : rest->substr(at + 1);
  return Trim(part);
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

bool EndsWithIgnoreCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && EqualsIgnoreCase(s.substr(s.size() - suffix.size()), suffix);
}

// A qvalue (RFC 9110 12.4.2: "0" to "1" with at most three decimals) in
// thousandths, or -1 when it is not one.
int ParseQValue(std::string_view q) {
  if (q.empty() || (q[0] != '0' && q[0] != '1')) return -1;
  int thousandths = (q[0] - '0') * 1000;
  if (q.size() == 1) return thousandths;
  if (q[1] != '.' || q.size() > 5) return -1;
  int scale = 100;
  for (char c : q.substr(2)) {
    if (c < '0' || c > '9') return -1;
    thousandths += (c - '0') * scale;
    scale /= 10;
  }
  return thousandths <= 1000 ? thousandths : -1;
}

// Whether Accept-Encoding lets us send gzip: gzip (or its alias x-gzip) named
// with q > 0, or, when neither is named, "*" with q > 0. An element whose q is
// malformed is ignored rather than guessed at.
bool AcceptsGzip(std::string_view accept_encoding) {
  int gzip_q = -1;  // -1: not named
  int star_q = -1;
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    std::string_view params = NextPart(&rest, ',');
    const std::string_view coding = NextPart(&params, ';');
    int q = 1000;
    while (!params.empty()) {
      std::string_view value = NextPart(&params, ';');
      const std::string_view name = NextPart(&value, '=');
      if (EqualsIgnoreCase(name, "q")) q = ParseQValue(Trim(value));
    }
    if (q < 0) continue;
    if (EqualsIgnoreCase(coding, "gzip") || EqualsIgnoreCase(coding, "x-gzip")) {
      gzip_q = std::max(gzip_q, q);
    } else if (coding == "*") {
      star_q = std::max(star_q, q);
    }
  }
  return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}

bool IsCompressibleType(std::string_view content_type) {
  std::string_view rest = content_type;
  const std::string_view media = NextPart(&rest, ';');
  if (StartsWithIgnoreCase(media, "text/")) return !EqualsIgnoreCase(media, "text/event-stream");
  if (StartsWithIgnoreCase(media, "application/")) {
    const std::string_view sub = media.substr(12);
    return EqualsIgnoreCase(sub, "json") || EqualsIgnoreCase(sub, "javascript") ||
           EqualsIgnoreCase(sub, "xml") || EqualsIgnoreCase(sub, "wasm") ||
           (sub.size() > 5 && EndsWithIgnoreCase(sub, "+json")) ||
           (sub.size() > 4 && EndsWithIgnoreCase(sub, "+xml"));
  }
  return EqualsIgnoreCase(media, "image/svg+xml");
}

bool HasNoTransform(std::string_view cache_control) {
  std::string_view rest = cache_control;
  while (!rest.empty()) {
    std::string_view directive = NextPart(&rest, ',');
    if (EqualsIgnoreCase(NextPart(&directive, '='), "no-transform")) return true;
  }
  return false;
}

}  // namespace

bool ShouldGzip(const GzipDecisionInput& in) {
  if (in.method == "HEAD") return false;
  if (in.status < 200 || in.status == 204 || in.status == 206 || in.status == 304) return false;
  const std::string_view encoding = Trim(in.content_encoding);
  if (!encoding.empty() && !EqualsIgnoreCase(encoding, "identity")) return false;
  if (in.has_length && in.length < kMinGzipBytes) return false;
  return !HasNoTransform(in.cache_control) && IsCompressibleType(in.content_type) &&
         AcceptsGzip(in.accept_encoding);
}

struct GzipEncoder::State {
  z_stream stream{};
  bool finished = false;

  // Runs deflate with `flush` over `in` until it has taken all of it and
  // written all it has to *out.
  void Deflate(std::string_view in, int flush, std::string* out) {
    // avail_in and avail_out are 32 bits: feed larger pieces in slices
    // whose bound fits.
    constexpr size_t kMaxSlice = size_t{1} << 30;
    do {
      const size_t slice = std::min(in.size(), kMaxSlice);
      const int slice_flush = slice == in.size() ? flush : Z_NO_FLUSH;
      stream.next_in = reinterpret_cast<const Bytef*>(in.data());
      stream.avail_in = static_cast<uInt>(slice);
      // deflateBound covers Z_FINISH of fresh input; a flush may need a few
      // more bytes, and the loop gives them. Over 6 bytes of room each time,
      // so a sync flush never ends on a full buffer (zlib would repeat its
      // marker).
      const size_t room = deflateBound(&stream, static_cast<uLong>(slice)) + 64;
      int ret;
      do {
        const size_t old_size = out->size();
        out->resize(old_size + room);
        stream.next_out = reinterpret_cast<Bytef*>(out->data() + old_size);
        stream.avail_out = static_cast<uInt>(room);
        ret = deflate(&stream, slice_flush);
        // Z_BUF_ERROR only says there was nothing left to do.
        SKIFF_CHECK(ret == Z_OK || ret == Z_STREAM_END || ret == Z_BUF_ERROR);
        out->resize(old_size + room - stream.avail_out);
      } while (stream.avail_out == 0 || (flush == Z_FINISH && ret != Z_STREAM_END));
      SKIFF_CHECK(stream.avail_in == 0);
      in.remove_prefix(slice);
    } while (!in.empty());
  }
};

GzipEncoder::GzipEncoder(int level) : state_(std::make_unique<State>()) {
  SKIFF_CHECK(level >= 1 && level <= 9);
  const int ret = deflateInit2(&state_->stream, level, Z_DEFLATED, /*windowBits=*/15 + 16,
                               /*memLevel=*/8, Z_DEFAULT_STRATEGY);
  if (ret == Z_MEM_ERROR) throw std::bad_alloc();  // as operator new would
  SKIFF_CHECK(ret == Z_OK);
}

GzipEncoder::~GzipEncoder() { deflateEnd(&state_->stream); }

void GzipEncoder::Compress(std::string_view in, std::string* out) {
  SKIFF_CHECK(!state_->finished);
  // Every earlier call flushed, so an empty piece has nothing to add.
  if (in.empty()) return;
  state_->Deflate(in, Z_SYNC_FLUSH, out);
}

void GzipEncoder::Finish(std::string* out) {
  SKIFF_CHECK(!state_->finished);
  state_->finished = true;
  state_->Deflate({}, Z_FINISH, out);
}

}  // namespace skiff::edge
