class AcronisCred < Formula
  desc "Credential helper for the Acronis Cyber Protect Cloud API"
  # TODO: the project's public home and release tarball are not settled yet;
  # set homepage, url and sha256 (shasum -a 256 acronis-cred-0.1.0.tar.gz) then.
  homepage "https://example.invalid/acronis-cred"
  url "https://example.invalid/acronis-cred/acronis-cred-0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license any_of: ["MIT", "Apache-2.0"]

  depends_on "rust" => :build

  def install
    system "cargo", "install", *std_cargo_args

    # The binary answers to these names as git, docker and terraform helpers.
    %w[git-credential-acronis docker-credential-acronis terraform-credentials-acronis].each do |helper|
      bin.install_symlink "acronis-cred" => helper
    end

    generate_completions_from_executable(bin/"acronis-cred", "completions")

    system bin/"acronis-cred", "man", "--dir", buildpath/"man"
    man1.install buildpath.glob("man/*.1")
    man1.install_symlink "acronis-cred-git.1" => "git-credential-acronis.1"
    man1.install_symlink "acronis-cred-docker.1" => "docker-credential-acronis.1"
    man1.install_symlink "acronis-cred-terraform.1" => "terraform-credentials-acronis.1"
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/docker-credential-acronis version")
    assert_match "Usage: acronis-cred", shell_output("#{bin}/acronis-cred --help")
    # A host with no registered profile: terraform's "nothing for that host".
    assert_equal "{}", shell_output("#{bin}/terraform-credentials-acronis get example.com").strip
  end
end
