use clap::Parser;

/// A request allocates and frees many small buffers (rows, JSON, headers) across the runtime's
/// threads; mimalloc serves them from per-thread pages where the system allocator contends.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
