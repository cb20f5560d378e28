#pragma once
// The whole public surface of suitkaise-cpp in one include (the optional
// components are included on their own: <sk/pg.hpp> with suitkaise::pg).
#include <sk/autoreconnect.hpp>
#include <sk/circuit.hpp>
#include <sk/modifiers.hpp>
#include <sk/path.hpp>
#include <sk/pipe.hpp>
#include <sk/pool.hpp>
#include <sk/process.hpp>
#include <sk/rate_limiter.hpp>
#include <sk/reconnectables.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/counter.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/log.hpp>
#include <sk/slots/object.hpp>
#include <sk/slots/shared.hpp>
#include <sk/slots/timer.hpp>
#include <sk/slots/value.hpp>
#include <sk/task.hpp>
#include <sk/timer.hpp>
#include <sk/version.hpp>
