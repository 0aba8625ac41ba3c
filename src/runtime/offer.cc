#include "runtime/offer.h"

namespace skiff::runtime {

DriverOffer OfferOf(const std::map<std::string, Driver*>& drivers) {
  DriverOffer offer;
  for (const auto& [name, driver] : drivers) {
    if (driver == nullptr) continue;
    const DriverInfo info = driver->Info();
    if (info.available) offer.drivers.push_back(name);
    if (!info.notes.empty()) {
      if (!offer.notes.empty()) offer.notes += "; ";
      offer.notes += name + ": " + info.notes;
    }
  }
  return offer;
}

}  // namespace skiff::runtime
