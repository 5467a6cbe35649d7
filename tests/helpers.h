#pragma once
// The shared test helpers live in tests/support/helpers.h; this path keeps working.
#include "support/helpers.h"
