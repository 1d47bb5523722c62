# libFuzzer target for the quant JSON and the decode path of `plena quant decode`.
plena_add_fuzzer(fuzz_quant_json SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_quant_json.cpp LIBS plena_numerics)
