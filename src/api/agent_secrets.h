// What a node's agent is given of apps' secrets: the values of those its
// assigned revisions name, with its assignments (protocol::Assignments::
// secrets). One function for both ways an agent hears them: the HTTP
// endpoint of remote agents (agent_handlers.cc, answered only to the node's
// own credential) and the all-in-one server's in-process agent
// (server/local_control_plane.h).
#pragma once

#include "auth/secrets.h"
#include "protocol/node.h"

namespace skiff::api {

// Fills assignments->secrets: for each app whose assigned specs name
// secrets (AppSpec::secret_versions), the current values of those it names
// (an app's other secrets, left by an earlier app of the same name, are not
// given). An app whose secrets cannot be read or opened is left out (its
// instances wait, agent/agent.h) and logged, naming the record, never a
// value; the others are given. `secrets` null: nothing is given.
void AttachSecrets(const auth::SecretStore* secrets, protocol::Assignments* assignments);

}  // namespace skiff::api
