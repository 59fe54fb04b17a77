//! Responsive images: `srcset`, `sizes` and `<picture>` markup over a bounded
//! set of widths, for hosted images (flexible variants) and for transformations.

use std::collections::BTreeSet;

use super::options::{Format, TransformOption, TransformOptions};
use super::transform_url::TransformUrl;
use super::url::check_zone_for_url;
use super::url_error::UrlError;
use super::DeliveryUrl;

/// The most widths a responsive image takes. Each width, in each format, is a
/// transformation Cloudflare bills once a month; a set this size already covers
/// phones to 4K screens in steps of less than 30 %.
pub const MAX_SRCSET_WIDTHS: usize = 16;

/// Which markup [`ResponsiveImage::transformations`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Markup {
    /// [`ResponsiveImage::img`]: one URL per width.
    Img,
    /// [`ResponsiveImage::picture`]: AVIF, WebP and the fallback, per width.
    Picture,
}

#[derive(Clone, Debug, PartialEq)]
enum Target {
    Hosted {
        account_hash: String,
        image_id: String,
        zone: Option<String>,
    },
    Transformation {
        zone: String,
        source: String,
    },
}

/// `srcset`, `sizes` and `<picture>` markup for one image at a bounded set of
/// widths: each URL is the image's options with `w=<width>` (and, in
/// `<picture>`'s sources, `format=avif` or `format=webp`).
///
/// Every URL is built, and checked, when the value is created: the markup
/// methods cannot fail. Attribute values are HTML-escaped.
///
/// ```
/// use cloudflare_images::delivery::{Fit, Markup, ResponsiveImage, TransformOptions};
/// # fn main() -> Result<(), cloudflare_images::delivery::UrlError> {
/// let image = ResponsiveImage::transformation(
///     "example.com",
///     "/img/hero.jpg",
///     TransformOptions::new().fit(Fit::ScaleDown),
///     &[320, 640],
/// )?
/// .sizes("(max-width: 640px) 100vw, 640px")?;
/// assert_eq!(
///     image.img("A \"hero\""),
///     "<img src=\"https://example.com/cdn-cgi/image/fit=scale-down,w=640/img/hero.jpg\" \
///      srcset=\"https://example.com/cdn-cgi/image/fit=scale-down,w=320/img/hero.jpg 320w, \
///      https://example.com/cdn-cgi/image/fit=scale-down,w=640/img/hero.jpg 640w\" \
///      sizes=\"(max-width: 640px) 100vw, 640px\" alt=\"A &quot;hero&quot;\">"
/// );
/// assert_eq!(image.transformations(Markup::Img), 2);
/// assert_eq!(image.transformations(Markup::Picture), 6);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ResponsiveImage {
    target: Target,
    options: TransformOptions,
    widths: Vec<u32>,
    sizes: String,
    // URLs per width, in `widths` order: the options as given, AVIF, WebP.
    fallback: Vec<String>,
    avif: Vec<String>,
    webp: Vec<String>,
}

fn check_widths(widths: &[u32]) -> Result<Vec<u32>, UrlError> {
    let bad = |reason: String| UrlError::InvalidWidths { reason };
    if widths.is_empty() {
        return Err(bad("give at least one width".into()));
    }
    if widths.len() > MAX_SRCSET_WIDTHS {
        return Err(bad(format!(
            "{} widths, more than {MAX_SRCSET_WIDTHS}: each one is a billed transformation",
            widths.len()
        )));
    }
    let set: BTreeSet<u32> = widths.iter().copied().collect();
    if set.len() != widths.len() {
        return Err(bad("a width is given twice".into()));
    }
    for &w in &set {
        if !(1..=super::MAX_DIMENSION).contains(&w) {
            return Err(UrlError::out_of_range("w", "between 1 and 12000", w));
        }
    }
    Ok(set.into_iter().collect())
}

/// Escapes an HTML attribute value written between double quotes.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

impl ResponsiveImage {
    /// A hosted image's flexible variants on `imagedelivery.net`.
    ///
    /// `options` must not set a width (each URL sets its own) and, as for any
    /// hosted image, not `onerror`; the account must have flexible variants
    /// enabled, and the image must not require signed URLs (see
    /// [`for_image`](Self::for_image), which checks it).
    pub fn hosted(
        account_hash: &str,
        image_id: &str,
        options: TransformOptions,
        widths: &[u32],
    ) -> Result<Self, UrlError> {
        Self::build(
            Target::Hosted {
                account_hash: account_hash.to_string(),
                image_id: image_id.to_string(),
                zone: None,
            },
            options,
            widths,
        )
    }

    /// [`hosted`](Self::hosted) for `image`, a record the API returned: refused
    /// with [`UrlError::FlexibleVariantOfSignedImage`] if the image requires
    /// signed URLs.
    pub fn for_image(
        account_hash: &str,
        image: &crate::types::Image,
        options: TransformOptions,
        widths: &[u32],
    ) -> Result<Self, UrlError> {
        if image.require_signed_urls {
            return Err(UrlError::FlexibleVariantOfSignedImage);
        }
        let id = image
            .id
            .as_deref()
            .ok_or_else(|| UrlError::invalid_url("the image record has no id"))?;
        Self::hosted(account_hash, id, options, widths)
    }

    /// Transformations of `source` (a path on the zone or an absolute URL) on
    /// `zone`. `options` must not set a width.
    pub fn transformation(
        zone: &str,
        source: &str,
        options: TransformOptions,
        widths: &[u32],
    ) -> Result<Self, UrlError> {
        Self::build(
            Target::Transformation {
                zone: zone.to_string(),
                source: source.to_string(),
            },
            options,
            widths,
        )
    }

    /// The hosted image's URLs on a zone of the account
    /// (`https://<zone>/cdn-cgi/imagedelivery/...`); an error for a
    /// transformation, whose zone is given when it is created.
    pub fn on_zone(self, zone: &str) -> Result<Self, UrlError> {
        check_zone_for_url(zone)?;
        let Target::Hosted {
            account_hash,
            image_id,
            ..
        } = self.target
        else {
            return Err(UrlError::invalid_url(
                "a transformation's zone is given to ResponsiveImage::transformation",
            ));
        };
        let mut rebuilt = Self::build(
            Target::Hosted {
                account_hash,
                image_id,
                zone: Some(zone.to_string()),
            },
            self.options,
            &self.widths,
        )?;
        rebuilt.sizes = self.sizes;
        Ok(rebuilt)
    }

    /// The `sizes` attribute (default `100vw`): a media condition list such as
    /// `(max-width: 640px) 100vw, 640px`. Refused when empty, over 1,000 bytes
    /// or with control characters; HTML-escaped in the markup.
    pub fn sizes(mut self, sizes: &str) -> Result<Self, UrlError> {
        if sizes.trim().is_empty() || sizes.len() > 1000 || sizes.chars().any(char::is_control) {
            return Err(UrlError::invalid_value(
                "sizes",
                sizes,
                "a non-empty media condition list of at most 1000 bytes, without control characters",
            ));
        }
        self.sizes = sizes.to_string();
        Ok(self)
    }

    fn build(target: Target, options: TransformOptions, widths: &[u32]) -> Result<Self, UrlError> {
        let widths = check_widths(widths)?;
        if options
            .options()
            .iter()
            .any(|o| matches!(o, TransformOption::Width(_)))
        {
            return Err(UrlError::Conflict {
                first: "w",
                second: "srcset widths",
            });
        }
        let hosted = matches!(target, Target::Hosted { .. });
        if hosted
            && options
                .options()
                .iter()
                .any(|o| matches!(o, TransformOption::OnErrorRedirect))
        {
            return Err(UrlError::NotForHostedImages { option: "onerror" });
        }
        let url = |o: TransformOptions| -> Result<String, UrlError> {
            o.check()?;
            let url = match &target {
                Target::Hosted {
                    account_hash,
                    image_id,
                    zone,
                } => {
                    let invalid = |e: crate::Error| UrlError::invalid_url(e.to_string());
                    let mut u = DeliveryUrl::new(account_hash.as_str(), image_id.as_str(), o)
                        .map_err(invalid)?;
                    if let Some(zone) = zone {
                        u = u.on_zone(zone).map_err(invalid)?;
                    }
                    u.url()
                }
                Target::Transformation { zone, source } => {
                    TransformUrl::new(zone, o, source)?.url()
                }
            };
            // A candidate URL ending in ',' would lose it to srcset's parser.
            if url.ends_with(',') {
                return Err(UrlError::invalid_url("a srcset URL must not end with ','"));
            }
            Ok(url)
        };
        let mut fallback = Vec::with_capacity(widths.len());
        let mut avif = Vec::with_capacity(widths.len());
        let mut webp = Vec::with_capacity(widths.len());
        for &w in &widths {
            let sized = options.clone().width(w);
            fallback.push(url(sized.clone())?);
            avif.push(url(sized.clone().format(Format::Avif))?);
            webp.push(url(sized.format(Format::Webp))?);
        }
        Ok(ResponsiveImage {
            target,
            options,
            widths,
            sizes: "100vw".to_string(),
            fallback,
            avif,
            webp,
        })
    }

    /// The widths, ascending.
    pub fn widths(&self) -> &[u32] {
        &self.widths
    }

    /// The `srcset` value, unescaped: `<url> 320w, <url> 640w`.
    pub fn srcset(&self) -> String {
        srcset(&self.fallback, &self.widths)
    }

    /// The `sizes` value, unescaped.
    pub fn sizes_value(&self) -> &str {
        &self.sizes
    }

    /// The largest width's URL, the `src` of the `<img>`.
    pub fn src(&self) -> &str {
        // `check_widths` refuses an empty set.
        self.fallback.last().map(String::as_str).unwrap_or_default()
    }

    /// `<img src srcset sizes alt>`, with the options as given.
    pub fn img(&self, alt: &str) -> String {
        format!(
            "<img src=\"{}\" srcset=\"{}\" sizes=\"{}\" alt=\"{}\">",
            escape(self.src()),
            escape(&self.srcset()),
            escape(&self.sizes),
            escape(alt)
        )
    }

    /// `<picture>` with an AVIF and a WebP `<source>` and [`img`](Self::img) as
    /// the fallback for browsers that take neither.
    pub fn picture(&self, alt: &str) -> String {
        let source = |mime: &str, urls: &[String]| {
            format!(
                "<source type=\"{mime}\" srcset=\"{}\" sizes=\"{}\">",
                escape(&srcset(urls, &self.widths)),
                escape(&self.sizes)
            )
        };
        format!(
            "<picture>{}{}{}</picture>",
            source("image/avif", &self.avif),
            source("image/webp", &self.webp),
            self.img(alt)
        )
    }

    /// How many distinct transformations the markup can cause: its distinct
    /// URLs, each billed once a month when a browser requests it.
    pub fn transformations(&self, markup: Markup) -> usize {
        let mut urls: BTreeSet<&str> = self.fallback.iter().map(String::as_str).collect();
        if markup == Markup::Picture {
            urls.extend(self.avif.iter().map(String::as_str));
            urls.extend(self.webp.iter().map(String::as_str));
        }
        urls.len()
    }
}

fn srcset(urls: &[String], widths: &[u32]) -> String {
    urls.iter()
        .zip(widths)
        .map(|(u, w)| format!("{u} {w}w"))
        .collect::<Vec<_>>()
        .join(", ")
}
