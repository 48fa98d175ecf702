// config/config.hpp: the whole configuration layer in one include.
//
// Settings (settings.hpp), where values came from (source.hpp), the key table (schema.hpp), value
// parsing (values.hpp) and loading from command line, environment and INI file (loader.hpp).
#pragma once

#include "config/loader.hpp"
#include "config/schema.hpp"
#include "config/settings.hpp"
#include "config/source.hpp"
#include "config/values.hpp"
