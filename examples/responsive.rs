//! Transformation URLs built and read back, and responsive markup: no network,
//! no account.
//!
//! Run: `cargo run --example responsive`

use cloudflare_images::delivery::{
    parse_url, Fit, Format, Gravity, Markup, ParsedUrl, ResponsiveImage, TransformOptions,
    TransformUrl,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A transformation of an image on your zone, typed and range-checked.
    let thumb = TransformUrl::new(
        "example.com",
        TransformOptions::new()
            .width(320)
            .height(320)
            .fit(Fit::Cover)
            .gravity(Gravity::Face)
            .zoom(0.5)
            .format(Format::Auto),
        "/uploads/avatar.jpg",
    )?;
    println!("transformation URL: {thumb}");

    // Read back, long or short option names alike.
    let parsed = parse_url(
        "https://example.com/cdn-cgi/image/width=320,h=320,fit=cover,g=face,zoom=0.5,f=auto/uploads/avatar.jpg",
    )?;
    let ParsedUrl::Transformation(read) = parsed else {
        return Err("not read as a transformation URL".into());
    };
    println!(
        "parsed back:        zone {}, source {}, options {}",
        read.zone().unwrap_or("(relative)"),
        read.source().as_str(),
        read.options().render()?
    );
    if read != thumb {
        return Err("the parsed URL differs from the one built".into());
    }

    // A value Cloudflare would refuse never becomes a URL.
    let refused = TransformUrl::new("example.com", TransformOptions::new().quality(0), "/a.jpg");
    match refused {
        Err(e) => println!("refused:            {e}"),
        Ok(url) => return Err(format!("built {url}").into()),
    }

    // Responsive markup for a hosted image's flexible variants.
    let hero = ResponsiveImage::hosted(
        "ZWd9g1K7eljCn_KDTu_MWA",
        "083eb7b2-5392-4565-b69e-aff66acddd00",
        TransformOptions::new().fit(Fit::ScaleDown),
        &[480, 960, 1920],
    )?
    .sizes("(max-width: 960px) 100vw, 960px")?;
    println!("\n{}\n", hero.picture("A hero image"));
    println!(
        "distinct transformations: {} for the <img>, {} for the <picture>",
        hero.transformations(Markup::Img),
        hero.transformations(Markup::Picture)
    );
    Ok(())
}
