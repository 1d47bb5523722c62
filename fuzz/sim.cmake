plena_add_fuzzer(fuzz_sim SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_sim.cpp LIBS plena_sim)
