// Overloaded: a visitor made of lambdas, for std::visit over a variant.
//
//   std::visit(Overloaded{[](const A& a) { ... }, [](const B& b) { ... }}, value);
#pragma once

namespace skiff {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace skiff
