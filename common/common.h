// common: the pieces every module shares and that have no better home.
//   result.h  - Result<T>/Status and the error taxonomy (errors as values at boundaries)
//   config.h  - the TOML configuration contract, parsed into plain structs
//   log.h     - spdlog set-up and the greppable log-line conventions
//   strings.h - ASCII case folding, base64, address splitting, RFC 5322 dates, random ids
// No global mutable state lives here.
#pragma once

#include "common/config.h"
#include "common/log.h"
#include "common/result.h"
#include "common/strings.h"
