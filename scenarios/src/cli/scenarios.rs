//! `skuswap scenarios list`: the named scenarios, one line each.

/// What `skuswap scenarios` can do (only `list`, also the default).
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum Action {
    List,
}

/// `skuswap scenarios`.
#[derive(clap::Args, Debug)]
pub struct ScenariosArgs {
    #[arg(value_enum)]
    pub action: Option<Action>,
    /// Print each whole description instead of its first sentence.
    #[arg(long)]
    pub long: bool,
}

pub fn run(a: &ScenariosArgs) -> u8 {
    for (name, description) in crate::named::list() {
        let line = if a.long {
            description.as_str()
        } else {
            description
                .split_once(": ")
                .or_else(|| description.split_once(". "))
                .map_or(description.as_str(), |(first, _)| first)
        };
        println!("{name:<16} {line}");
    }
    super::EXIT_OK
}
