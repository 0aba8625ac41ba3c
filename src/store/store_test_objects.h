// Small builders of stored objects for the store tests: just the fields that
// identify an object plus one that tests change to tell writes apart.
#pragma once

#include <string>

#include "model/resources.h"

namespace skiff::store::testing {

inline model::App MakeApp(const std::string& name, int64_t revision = 1) {
  model::App app;
  app.name = name;
  app.revision = revision;
  app.spec.name = name;
  app.spec.replicas = 2;
  app.spec.run.command = {"sleep", "100"};
  return app;
}

inline model::Deployment MakeDeployment(const std::string& app, int64_t revision) {
  model::Deployment d;
  d.app = app;
  d.revision = revision;
  d.spec.name = app;
  d.spec.run.command = {"sleep", "100"};
  d.message = "rev " + std::to_string(revision);
  return d;
}

inline model::Instance MakeInstance(const std::string& id, const std::string& app,
                                    const std::string& node) {
  model::Instance i;
  i.id = id;
  i.app = app;
  i.revision = 1;
  i.node = node;
  return i;
}

inline model::Node MakeNode(const std::string& id) {
  model::Node n;
  n.id = id;
  n.name = "name-" + id;
  n.address = "127.0.0.1";
  n.capacity.cpu_millis = 2000;
  n.capacity.memory_bytes = 1 << 30;
  return n;
}

inline model::Event MakeEvent(const std::string& app, const std::string& message) {
  model::Event e;
  e.app = app;
  e.kind = "test.event";
  e.message = message;
  return e;
}

}  // namespace skiff::store::testing
