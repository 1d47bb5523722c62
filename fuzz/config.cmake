# libFuzzer targets for the two TOML readers: hardware configs and run specs (parse + validate).
plena_add_fuzzer(fuzz_config_toml SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_config_toml.cpp LIBS plena_config plena_sim)
plena_add_fuzzer(fuzz_run_spec SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_run_spec.cpp LIBS plena_sim)
