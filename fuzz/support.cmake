# libFuzzer target for the .npy reader (built with clang, -DPLENA_BUILD_FUZZ=ON).
plena_add_fuzzer(fuzz_npy SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_npy.cpp LIBS plena_numerics)
