#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dui_fuzz::targets::run("bdpm", data));
