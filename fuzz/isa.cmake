# libFuzzer targets for the assembler and the decoder (built with clang, -DPLENA_BUILD_FUZZ=ON).
plena_add_fuzzer(fuzz_assembler SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_assembler.cpp LIBS plena_isa)
plena_add_fuzzer(fuzz_decoder SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_decoder.cpp LIBS plena_isa)
