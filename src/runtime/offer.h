// What a node offers of its drivers: the names the scheduler may place on
// (those available now) and the notes a user reads in `skiff nodes`.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/driver.h"

namespace skiff::runtime {

struct DriverOffer {
  std::vector<std::string> drivers;  // available now, by name
  std::string notes;                 // "name: note; …" of every driver that has one
  friend bool operator==(const DriverOffer&, const DriverOffer&) = default;
};

// Asks each driver (nullptr ones skipped) for its Info now.
DriverOffer OfferOf(const std::map<std::string, Driver*>& drivers);

}  // namespace skiff::runtime
