// The completion token of Skiff's coroutines over Asio: an operation's error
// comes back as the first element of a tuple instead of as an exception, so a
// peer's failure is a value the caller looks at.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace skiff::net {

inline constexpr auto kNoThrow = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace skiff::net
