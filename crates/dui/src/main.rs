use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = dui::cli::Cli::parse();
    match dui::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dui: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
