#pragma once
// The exceptions of sk::Pool (sk::PoolError and its subclasses). They are
// thrown by the Pool runtime in the ipc layer, so they are defined there.
#include <sk/ipc/pool_errors.hpp>
