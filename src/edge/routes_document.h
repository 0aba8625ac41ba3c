// The routes document: what a standalone edge needs of the store to build its
// routing table, as JSON — the apps that have domains (name and spec) and
// their instances that may take traffic (id, app, address, and traffic when
// not "serve": "canary" or "hold", see model::Traffic). The server answers
// it at GET /v1/routes; the edge keeps the last one on disk and starts from it
// when the server cannot be reached.
//
//   {"apps":[{"name":"web","spec":{...canonical spec...}}],
//    "instances":[{"id":"web-1a2b","app":"web","address":"127.0.0.1:20001"},
//                 {"id":"web-3c4d","app":"web","address":"127.0.0.1:20002","traffic":"canary"}]}
//
// Two equal documents are byte-equal (apps and instances sorted), so a hash of
// the text tells an edge whether anything changed.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace skiff::edge {

// The document of `snapshot` (compact JSON text).
std::string RoutesDocument(const store::Snapshot& snapshot);

// A snapshot holding just what RoutingTable::Build reads: the apps with their
// specs, and the instances as running, healthy and wanted, in their traffic
// group (serve when the field is missing). kInvalidArgument,
// naming the field, for a malformed document.
Result<store::Snapshot> SnapshotFromRoutesDocument(std::string_view text);

// A short fingerprint of a document's text (hex), for ETags.
std::string RoutesTag(std::string_view document);

}  // namespace skiff::edge
