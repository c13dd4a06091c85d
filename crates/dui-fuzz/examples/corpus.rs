//! Writes the seed corpus of each target, drawn from its structured inputs, under the folder
//! given (one folder per target): `cargo run -p dui-fuzz --example corpus -- fuzz/corpus 200`.

fn main() {
    let mut args = std::env::args().skip(1);
    let folder = std::path::PathBuf::from(args.next().unwrap_or_else(|| "fuzz/corpus".to_owned()));
    let count = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);
    for (name, _) in dui_fuzz::targets::ALL {
        let dir = folder.join(name);
        std::fs::create_dir_all(&dir).expect("the corpus folder can be made");
        for (i, input) in dui_fuzz::corpus(name, count, 1).into_iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:04}")), input).expect("a seed can be written");
        }
        println!("{name}: {count} seeds in {}", dir.display());
    }
}
