// Public header of the numerics module: formats and codecs.
#pragma once
#include "numerics/format.hpp"
