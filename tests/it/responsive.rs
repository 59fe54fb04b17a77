//! Responsive images: the exact `srcset`, `sizes`, `<img>` and `<picture>`
//! markup for hosted images and transformations, escaping, the bounds on the
//! set of widths, and the count of billed transformations.

use cloudflare_images::delivery::{
    Fit, Format, Markup, ResponsiveImage, TransformOptions, UrlError, MAX_SRCSET_WIDTHS,
};
use cloudflare_images::types::Image;

const HASH: &str = "ZWd9g1K7eljCn_KDTu_MWA";

#[test]
fn hosted_image_picture_exactly() {
    let image = ResponsiveImage::hosted(
        HASH,
        "products/a b.png",
        TransformOptions::new().fit(Fit::Cover).height(300),
        &[800, 400],
    )
    .unwrap()
    .sizes("(max-width: 400px) 100vw, 400px")
    .unwrap();
    let base = format!("https://imagedelivery.net/{HASH}/products/a%20b.png");
    assert_eq!(image.widths(), [400, 800]);
    assert_eq!(
        image.srcset(),
        format!("{base}/fit=cover,h=300,w=400 400w, {base}/fit=cover,h=300,w=800 800w")
    );
    assert_eq!(image.src(), format!("{base}/fit=cover,h=300,w=800"));
    assert_eq!(
        image.picture("A <b> & \"c\""),
        format!(
            "<picture>\
             <source type=\"image/avif\" srcset=\"{base}/fit=cover,h=300,w=400,format=avif 400w, \
             {base}/fit=cover,h=300,w=800,format=avif 800w\" sizes=\"(max-width: 400px) 100vw, 400px\">\
             <source type=\"image/webp\" srcset=\"{base}/fit=cover,h=300,w=400,format=webp 400w, \
             {base}/fit=cover,h=300,w=800,format=webp 800w\" sizes=\"(max-width: 400px) 100vw, 400px\">\
             <img src=\"{base}/fit=cover,h=300,w=800\" srcset=\"{base}/fit=cover,h=300,w=400 400w, \
             {base}/fit=cover,h=300,w=800 800w\" sizes=\"(max-width: 400px) 100vw, 400px\" \
             alt=\"A &lt;b&gt; &amp; &quot;c&quot;\">\
             </picture>"
        )
    );
    assert_eq!(image.transformations(Markup::Img), 2);
    assert_eq!(image.transformations(Markup::Picture), 6);

    let on_zone = image.on_zone("img.example.com").unwrap();
    assert_eq!(on_zone.sizes_value(), "(max-width: 400px) 100vw, 400px");
    assert_eq!(
        on_zone.src(),
        format!("https://img.example.com/cdn-cgi/imagedelivery/{HASH}/products/a%20b.png/fit=cover,h=300,w=800")
    );
}

#[test]
fn transformation_img_escapes_the_source_query() {
    let image = ResponsiveImage::transformation(
        "example.com",
        "https://cdn.example.net/a.jpg?x=1&y='2'",
        TransformOptions::new(),
        &[100],
    )
    .unwrap();
    let url = "https://example.com/cdn-cgi/image/w=100/https://cdn.example.net/a.jpg?x=1&amp;y=&#39;2&#39;";
    assert_eq!(
        image.img("x"),
        format!("<img src=\"{url}\" srcset=\"{url} 100w\" sizes=\"100vw\" alt=\"x\">")
    );
    assert_eq!(image.transformations(Markup::Picture), 3);
}

#[test]
fn a_base_format_shared_by_a_source_is_counted_once() {
    let image = ResponsiveImage::transformation(
        "example.com",
        "a.png",
        TransformOptions::new().format(Format::Avif),
        &[100, 200, 300],
    )
    .unwrap();
    // The fallback already is AVIF: the AVIF source adds no transformation.
    assert_eq!(image.transformations(Markup::Img), 3);
    assert_eq!(image.transformations(Markup::Picture), 6);
}

#[test]
fn bad_sets_of_widths_and_options_are_refused() {
    let widths: Vec<u32> = (1..=(MAX_SRCSET_WIDTHS as u32 + 1))
        .map(|i| i * 100)
        .collect();
    let transformation = |o: TransformOptions, w: &[u32]| {
        ResponsiveImage::transformation("example.com", "a.png", o, w)
    };
    assert!(matches!(
        transformation(TransformOptions::new(), &widths),
        Err(UrlError::InvalidWidths { .. })
    ));
    assert!(transformation(TransformOptions::new(), &widths[..MAX_SRCSET_WIDTHS]).is_ok());
    assert!(matches!(
        transformation(TransformOptions::new(), &[]),
        Err(UrlError::InvalidWidths { .. })
    ));
    assert!(matches!(
        transformation(TransformOptions::new(), &[100, 100]),
        Err(UrlError::InvalidWidths { .. })
    ));
    assert_eq!(
        transformation(TransformOptions::new(), &[0]),
        Err(UrlError::OutOfRange {
            option: "w",
            range: "between 1 and 12000",
            value: "0".into()
        })
    );
    assert_eq!(
        transformation(TransformOptions::new().width(10), &[100]),
        Err(UrlError::Conflict {
            first: "w",
            second: "srcset widths"
        })
    );
    assert_eq!(
        transformation(TransformOptions::new().quality(0), &[100]),
        Err(UrlError::OutOfRange {
            option: "q",
            range: "between 1 and 100",
            value: "0".into()
        })
    );
    assert_eq!(
        ResponsiveImage::hosted(
            HASH,
            "a",
            TransformOptions::new().onerror_redirect(),
            &[100]
        ),
        Err(UrlError::NotForHostedImages { option: "onerror" })
    );
    let image = transformation(TransformOptions::new(), &[100]).unwrap();
    assert!(matches!(
        image.clone().sizes(""),
        Err(UrlError::InvalidValue { .. })
    ));
    assert!(matches!(
        image.clone().sizes("a\nb"),
        Err(UrlError::InvalidValue { .. })
    ));
    assert!(matches!(
        image.on_zone("example.org"),
        Err(UrlError::InvalidUrl { .. })
    ));
}

#[test]
fn images_requiring_signed_urls_get_no_flexible_variants() {
    let mut image = Image {
        id: Some("a".into()),
        require_signed_urls: true,
        ..Image::default()
    };
    assert_eq!(
        ResponsiveImage::for_image(HASH, &image, TransformOptions::new(), &[100]),
        Err(UrlError::FlexibleVariantOfSignedImage)
    );
    image.require_signed_urls = false;
    let ok = ResponsiveImage::for_image(HASH, &image, TransformOptions::new(), &[100]).unwrap();
    assert_eq!(
        ok.srcset(),
        format!("https://imagedelivery.net/{HASH}/a/w=100 100w")
    );
}
